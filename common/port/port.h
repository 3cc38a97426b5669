// Ports and port ranges, and their text forms: what portleased's flags,
// the core's pool and the clients' arguments share. Abseil only.
#ifndef PORTLEASE_COMMON_PORT_PORT_H_
#define PORTLEASE_COMMON_PORT_PORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace portlease {

using Port = uint16_t;

// An inclusive range of ports, lo <= hi.
struct PortRange {
  Port lo = 0;
  Port hi = 0;
  uint32_t size() const { return uint32_t{hi} - lo + 1; }
  bool operator==(const PortRange&) const = default;
};

// A port number 1..65535 in decimal (surrounding ASCII whitespace
// allowed). INVALID_ARGUMENT "'TEXT' is not a port number (1-65535)".
absl::StatusOr<Port> ParsePort(absl::string_view text);

// Parses "LO-HI[,LO-HI...]" (a single "P" is the range P-P). Ports must be
// 1..65535. INVALID_ARGUMENT names the bad element.
absl::StatusOr<std::vector<PortRange>> ParsePortRanges(absl::string_view text);

// Parses a comma-separated list of ports and ranges into single ports.
absl::StatusOr<std::vector<Port>> ParsePortList(absl::string_view text);

// Formats ranges as ParsePortRanges reads them.
std::string FormatPortRanges(const std::vector<PortRange>& ranges);

// Formats ports (in any order, repeats allowed) as the shortest list of
// ranges ParsePortList reads back: {5, 3, 4, 9} -> "3-5,9"; {} -> "".
std::string FormatPortList(std::vector<Port> ports);

// Parses the content of /proc/sys/net/ipv4/ip_local_port_range ("32768\t60999").
absl::StatusOr<PortRange> ParseEphemeralRange(absl::string_view text);

}  // namespace portlease

#endif  // PORTLEASE_COMMON_PORT_PORT_H_
