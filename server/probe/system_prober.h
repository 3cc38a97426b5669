// SystemProber: the PortProber that asks the host. A port is free only if,
// at the time of the call, a TCP socket can bind it on 0.0.0.0 and on [::]
// (IPV6_V6ONLY=1) and, when `udp` is asked for, a UDP socket can too.
//
// By default (exclusive_bind) the probe sockets bind without SO_REUSEADDR,
// so the kernel's own bind table decides: any socket whose local port is P
// on an overlapping address - listening, bound (SO_REUSEADDR or not),
// connected, or in TIME_WAIT, 127.0.0.1:P and [::1]:P included - fails the
// bind. Each probe costs a few system calls whatever the size of the host.
// Where the kernel is found (once, at construction) to refuse a dual-stack
// bind ([::], IPV6_V6ONLY=0) for a port an IPv4 socket holds on 0.0.0.0 or
// 127.0.0.1, one such bind per port and protocol stands for the two
// (dual_stack_bind): half the system calls, the same answer.
//
// Without exclusive_bind (the earlier scheme), probe sockets set
// SO_REUSEADDR (so a TIME_WAIT alone does not fail the bind) and the port
// must also be absent from /proc/net/tcp and tcp6 (udp and udp6), whatever
// the state or local address; for ports no table lists, a second pair of
// TCP binds without SO_REUSEADDR catches a bound, non-listening SO_REUSEADDR
// socket (in no table). Reading a table walks the kernel's whole
// connection hash: about 4 ms per table on a host with a 262,144-bucket
// hash, even when it lists no socket (see tests/bench/README.md).
//
// Probe sockets never set SO_REUSEPORT (which would let the bind share a
// live listener's port), and are closed at once. On a host without IPv6
// (EAFNOSUPPORT from socket(), EADDRNOTAVAIL from bind()), the [::] binds
// are skipped.
//
//   SystemProber prober;
//   absl::StatusOr<std::vector<Port>> busy = prober.Busy(20000, 8, false);
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
  // Bind without SO_REUSEADDR and read no socket table (see above). When
  // false, use the table scheme, with the tables under proc_root.
  bool exclusive_bind = true;
  // With exclusive_bind: one dual-stack bind per port instead of 0.0.0.0
  // and [::], when the kernel passes the check above; else the two binds.
  bool dual_stack_bind = true;
};

// Thread-safe: Busy() keeps no state between calls.
class SystemProber : public PortProber {
 public:
  // With exclusive_bind and dual_stack_bind, binds a few sockets on ports
  // the kernel picks to check how it treats dual-stack binds.
  explicit SystemProber(SystemProberOptions options = {});

  // Of the ports first .. first+count-1 (cut at 65535), those in use, in
  // increasing order. Port 0 is always reported busy (it cannot be leased).
  // Without exclusive_bind, the socket tables are read once per call. Fails
  // safe: when a table exists but cannot be read or parsed, or a probe
  // socket cannot be created or bound for another reason, the affected ports
  // are reported busy. But this process's own shortage (EMFILE, ENFILE,
  // ENOMEM, ENOBUFS from socket(), setsockopt() or bind(), or from opening
  // a table) says nothing about the ports: UNAVAILABLE "server out of file
  // descriptors ..." (or "... memory"), and no port is reported.
  absl::StatusOr<std::vector<Port>> Busy(Port first, uint32_t count,
                                         bool udp) override;

  // Busy's ports that a TCP bind with SO_REUSEADDR (on 0.0.0.0 and [::])
  // is refused too (and, when `udp`, the plain UDP bind): a listener, or a
  // socket bound without SO_REUSEADDR, but not a TIME_WAIT whose server set
  // SO_REUSEADDR. Without exclusive_bind, the same as Busy. UNAVAILABLE on
  // a resource fault, like Busy.
  absl::StatusOr<std::vector<Port>> Held(Port first, uint32_t count,
                                         bool udp) override;

 private:
  const SystemProberOptions options_;
  // One dual-stack bind per port stands for 0.0.0.0 and [::].
  const bool dual_tcp_;
  const bool dual_udp_;
};

// Reads `proc_root`/sys/net/ipv4/ip_local_port_range, the kernel's
// ephemeral port range, parsed by ParseEphemeralRange (pool_config.h).
// NOT_FOUND when the file does not exist, INVALID_ARGUMENT when its content
// is not "LO<whitespace>HI" with 1 <= LO <= HI <= 65535.
absl::StatusOr<PortRange> ReadEphemeralPortRange(
    absl::string_view proc_root = "/proc");

}  // namespace portlease

#endif  // PORTLEASE_SERVER_PROBE_SYSTEM_PROBER_H_
