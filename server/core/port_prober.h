// PortProber: asks the host whether ports are really free. Declared here,
// implemented by server/probe (sockets and /proc); tests use FakeProber.
#ifndef PORTLEASE_SERVER_CORE_PORT_PROBER_H_
#define PORTLEASE_SERVER_CORE_PORT_PROBER_H_

#include <vector>

#include "absl/status/statusor.h"
#include "server/core/lease.h"

namespace portlease {

// Thread-safe implementations only.
class PortProber {
 public:
  virtual ~PortProber() = default;

  // Of the ports first .. first+count-1, those that some other socket on the
  // host uses (bound, listening, connected or in TIME_WAIT), for TCP and,
  // when `udp`, for UDP. Empty when all are free.
  //
  // A probe that cannot run for want of a resource (the server out of file
  // descriptors or memory: EMFILE, ENFILE, ENOMEM, ENOBUFS) says nothing
  // about the ports: it is UNAVAILABLE, with a message naming the resource
  // ("server out of file descriptors ..."), never a busy port.
  virtual absl::StatusOr<std::vector<Port>> Busy(Port first, uint32_t count,
                                                 bool udp) = 0;

  // Of the same ports, those something still holds against a server that
  // binds them the usual way (with SO_REUSEADDR): a listener, or a socket
  // bound without SO_REUSEADDR. Unlike Busy, the remnants of a clean
  // shutdown (a TIME_WAIT its server left with SO_REUSEADDR set) do not
  // count. Asked when a lease ends, to tell a leaked listener (the lease
  // goes draining) from closed connections (it ends; Busy keeps the ports
  // from being granted until the remnants are gone). Defaults to Busy.
  // UNAVAILABLE on a resource fault, like Busy.
  virtual absl::StatusOr<std::vector<Port>> Held(Port first, uint32_t count,
                                                 bool udp) {
    return Busy(first, count, udp);
  }
};

// A prober that believes every port free.
class TrustingProber : public PortProber {
 public:
  absl::StatusOr<std::vector<Port>> Busy(Port, uint32_t, bool) override {
    return std::vector<Port>();
  }
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_PORT_PROBER_H_
