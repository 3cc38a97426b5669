// Pool configuration: parsing port ranges and fitting the pool around the
// kernel's ephemeral port range and the excluded ports.
#ifndef PORTLEASE_SERVER_CORE_POOL_CONFIG_H_
#define PORTLEASE_SERVER_CORE_POOL_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/lease.h"

namespace portlease {

// An inclusive range of ports, lo <= hi.
struct PortRange {
  Port lo = 0;
  Port hi = 0;
  uint32_t size() const { return uint32_t{hi} - lo + 1; }
  bool operator==(const PortRange&) const = default;
};

// The ports of the M2 example stack, always kept out of the pool: a service
// started with its default configuration must never collide with a lease.
inline constexpr Port kM2DefaultPorts[] = {6379, 7001, 8080, 8081, 9090};

// Parses "LO-HI[,LO-HI...]" (a single "P" is the range P-P). Ports must be
// 1..65535. INVALID_ARGUMENT names the bad element.
absl::StatusOr<std::vector<PortRange>> ParsePortRanges(absl::string_view text);

// Parses a comma-separated list of ports and ranges into single ports.
absl::StatusOr<std::vector<Port>> ParsePortList(absl::string_view text);

// `exclude` and kM2DefaultPorts: the ports a pool built with `exclude`
// never grants.
std::vector<Port> WithM2DefaultPorts(std::vector<Port> exclude);

// Formats ranges as ParsePortRanges reads them.
std::string FormatPortRanges(const std::vector<PortRange>& ranges);

// Formats ports (in any order, repeats allowed) as the shortest list of
// ranges ParsePortList reads back: {5, 3, 4, 9} -> "3-5,9"; {} -> "".
std::string FormatPortList(std::vector<Port> ports);

// Parses the content of /proc/sys/net/ipv4/ip_local_port_range ("32768\t60999").
absl::StatusOr<PortRange> ParseEphemeralRange(absl::string_view text);

enum class EphemeralPolicy {
  // A pool overlapping the ephemeral range is an error.
  kRefuse,
  // The overlap is cut out of the pool.
  kTrim,
  // The overlap is kept (the operator knows better).
  kAllow,
};

// Returns `pool` fitted around `ephemeral` according to `policy`, sorted and
// merged. INVALID_ARGUMENT when ranges overlap each other, when the policy is
// kRefuse and the pool overlaps the ephemeral range (the message says which
// ports and how to fix it), or when nothing is left.
absl::StatusOr<std::vector<PortRange>> FitPool(std::vector<PortRange> pool,
                                               PortRange ephemeral,
                                               EphemeralPolicy policy);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_POOL_CONFIG_H_
