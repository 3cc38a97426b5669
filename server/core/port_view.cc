#include "server/core/port_view.h"

namespace portlease {

const char* PortStateName(PortView::State state) {
  using State = PortView::State;
  switch (state) {
    case State::kOutsidePool: return "outside-pool";
    case State::kExcluded: return "excluded";
    case State::kFree: return "free";
    case State::kLeased: return "leased";
    case State::kQuarantined: return "quarantined";
    case State::kBusy: return "busy";
    case State::kDraining: return "draining";
    case State::kDisabled: return "disabled";
  }
  return "unknown";
}

}  // namespace portlease
