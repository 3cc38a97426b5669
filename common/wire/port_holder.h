// What the host says holds a port (common/host's PortHolder) as the wire's
// v1.PortHolder entries: one per process, or one without a process when
// none could be named. Shared by the server's Who and the CLI's local
// inspection (`portlease who` without a server).
#ifndef PORTLEASE_COMMON_WIRE_PORT_HOLDER_H_
#define PORTLEASE_COMMON_WIRE_PORT_HOLDER_H_

#include <vector>

#include "common/host/port_holders.h"
#include "portlease/v1/portlease.pb.h"

namespace portlease {

std::vector<v1::PortHolder> HolderEntries(const PortHolder& holder);

}  // namespace portlease

#endif  // PORTLEASE_COMMON_WIRE_PORT_HOLDER_H_
