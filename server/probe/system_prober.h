// SystemProber: the PortProber that asks the host. A port is free only if,
// at the time of the call,
//   - a TCP socket can bind it on 0.0.0.0 and on [::] (IPV6_V6ONLY=1), and
//   - no socket in /proc/net/tcp or tcp6 has it as its local port, whatever
//     the state or local address (TIME_WAIT, 127.0.0.1:P, [::1]:P, ...),
// and, when `udp` is asked for, the same holds for UDP (bind on both
// families, /proc/net/udp and udp6).
//
// Probe sockets set SO_REUSEADDR (so a TIME_WAIT alone does not fail the
// bind; the table catches it), never SO_REUSEPORT (which would let the bind
// share a live listener's port), and are closed at once. On a host without
// IPv6 (EAFNOSUPPORT from socket(), EADDRNOTAVAIL from bind()), the [::]
// binds are skipped.
//
// A TCP socket that is bound, not listening and set SO_REUSEADDR itself is
// in no table and does not block a SO_REUSEADDR bind; for ports no table
// lists, a second pair of TCP binds without SO_REUSEADDR catches it (and,
// when the tables are not read, also catches TIME_WAIT).
//
//   SystemProber prober;
//   std::vector<Port> busy = prober.Busy(20000, 8, /*udp=*/false);
#ifndef PORTLEASE_SERVER_PROBE_SYSTEM_PROBER_H_
#define PORTLEASE_SERVER_PROBE_SYSTEM_PROBER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/pool_config.h"
#include "server/core/port_prober.h"

namespace portlease {

struct SystemProberOptions {
  // Root of the proc filesystem whose net/ tables are read. Tests point it
  // at a fixture directory; a directory without net/ tables disables the
  // table check and leaves only the binds.
  std::string proc_root = "/proc";
};

// Thread-safe: Busy() keeps no state between calls.
class SystemProber : public PortProber {
 public:
  explicit SystemProber(SystemProberOptions options = {});

  // Of the ports first .. first+count-1 (cut at 65535), those in use, in
  // increasing order. Port 0 is always reported busy (it cannot be leased).
  // The socket tables are read once per call. Fails safe: when a table
  // exists but cannot be read or parsed, or a probe socket cannot be
  // created (e.g. EMFILE), the affected ports are reported busy.
  std::vector<Port> Busy(Port first, uint32_t count, bool udp) override;

 private:
  const SystemProberOptions options_;
};

// Reads `proc_root`/sys/net/ipv4/ip_local_port_range, the kernel's
// ephemeral port range, parsed by ParseEphemeralRange (pool_config.h).
// NOT_FOUND when the file does not exist, INVALID_ARGUMENT when its content
// is not "LO<whitespace>HI" with 1 <= LO <= HI <= 65535.
absl::StatusOr<PortRange> ReadEphemeralPortRange(
    absl::string_view proc_root = "/proc");

}  // namespace portlease

#endif  // PORTLEASE_SERVER_PROBE_SYSTEM_PROBER_H_
