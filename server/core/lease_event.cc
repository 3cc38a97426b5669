#include "server/core/lease_event.h"

#include <utility>

namespace portlease {

const char* LeaseEventName(LeaseEvent::Type type) {
  switch (type) {
    case LeaseEvent::Type::kGranted: return "grant";
    case LeaseEvent::Type::kRenewed: return "renew";
    case LeaseEvent::Type::kReleased: return "release";
    case LeaseEvent::Type::kExpired: return "expire";
    case LeaseEvent::Type::kHolderLost: return "reclaim";
    case LeaseEvent::Type::kDraining: return "draining";
    case LeaseEvent::Type::kDrained: return "drained";
    case LeaseEvent::Type::kForeignBusy: return "foreign-busy";
    case LeaseEvent::Type::kStoreError: return "store-error";
    case LeaseEvent::Type::kForceReleased: return "force-release";
    case LeaseEvent::Type::kPortDrained: return "port-drain";
    case LeaseEvent::Type::kPortUndrained: return "port-undrain";
    case LeaseEvent::Type::kPoolChanged: return "pool-change";
    case LeaseEvent::Type::kClaimLost: return "claim-lost";
    case LeaseEvent::Type::kRecovering: return "recovering";
    case LeaseEvent::Type::kRecovered: return "recovered";
    case LeaseEvent::Type::kReattached: return "reattach";
  }
  return "unknown";
}

LeaseEvent MakeEvent(LeaseEvent::Type type, const LeaseRecord* lease,
                     Port port, std::string detail, const Principal* by) {
  LeaseEvent event{type, std::nullopt, port, std::move(detail)};
  if (lease != nullptr) event.lease = *lease;
  event.by = by != nullptr ? by->id : "server";
  if (by != nullptr && by->privileged() && lease != nullptr &&
      lease->caller != by->id) {
    event.privilege = by->privilege;  // an override, logged as such
  }
  return event;
}

AuditEvent ToAuditEvent(LeaseEvent event, absl::Time at) {
  AuditEvent audit;
  audit.at = at;
  audit.type = LeaseEventName(event.type);
  if (event.lease.has_value()) {
    const LeaseRecord& lease = *event.lease;
    audit.lease = lease.IdPrefix();
    audit.base = lease.base;
    audit.count = lease.count;
    audit.owner = lease.owner;
  }
  audit.port = event.port;
  audit.by = std::move(event.by);
  audit.privilege = std::move(event.privilege);
  audit.detail = std::move(event.detail);
  return audit;
}

}  // namespace portlease
