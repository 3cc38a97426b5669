// PortView: what the pool knows of one port (for Who).
#ifndef PORTLEASE_SERVER_CORE_PORT_VIEW_H_
#define PORTLEASE_SERVER_CORE_PORT_VIEW_H_

#include <optional>

#include "server/core/lease.h"
#include "server/core/port_claims.h"

namespace portlease {

// What the pool knows of one port (for Who).
struct PortView {
  enum class State {
    kOutsidePool,
    kExcluded,
    kFree,
    kLeased,
    kQuarantined,
    kBusy,
    kDraining,
    kDisabled,  // DrainPort: out of service until UndrainPort
  };
  State state = State::kOutsidePool;
  std::optional<LeaseRecord> lease;
  // Another server on the host claims the port (PortClaims::Holder).
  std::optional<ClaimHolder> claimed_by;
};
const char* PortStateName(PortView::State state);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_PORT_VIEW_H_
