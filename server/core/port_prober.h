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
};

// A prober that believes every port free.
class TrustingProber : public PortProber {
 public:
  std::vector<Port> Busy(Port, uint32_t, bool) override { return {}; }
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_PORT_PROBER_H_
