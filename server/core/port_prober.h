// PortProber: asks the host whether ports are really free. Declared here,
// implemented by server/probe (sockets and /proc); tests use FakeProber.
#ifndef PORTLEASE_SERVER_CORE_PORT_PROBER_H_
#define PORTLEASE_SERVER_CORE_PORT_PROBER_H_

#include <vector>

#include "server/core/lease.h"

namespace portlease {

// Thread-safe implementations only.
class PortProber {
 public:
  virtual ~PortProber() = default;

  // Of the ports first .. first+count-1, those that some other socket on the
  // host uses (bound, listening, connected or in TIME_WAIT), for TCP and,
  // when `udp`, for UDP. Empty when all are free.
  virtual std::vector<Port> Busy(Port first, uint32_t count, bool udp) = 0;

  // Of the same ports, those something still holds against a server that
  // binds them the usual way (with SO_REUSEADDR): a listener, or a socket
  // bound without SO_REUSEADDR. Unlike Busy, the remnants of a clean
  // shutdown (a TIME_WAIT its server left with SO_REUSEADDR set) do not
  // count. Asked when a lease ends, to tell a leaked listener (the lease
  // goes draining) from closed connections (it ends; Busy keeps the ports
  // from being granted until the remnants are gone). Defaults to Busy.
  virtual std::vector<Port> Held(Port first, uint32_t count, bool udp) {
    return Busy(first, count, udp);
  }
};

// A prober that believes every port free.
class TrustingProber : public PortProber {
 public:
  std::vector<Port> Busy(Port, uint32_t, bool) override { return {}; }
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_PORT_PROBER_H_
