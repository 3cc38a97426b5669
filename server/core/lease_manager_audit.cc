// LeaseManager: the events it reports and the audit trail the store keeps.
#include <utility>

#include "absl/strings/str_cat.h"

#include "server/core/lease_manager.h"

namespace portlease {

LeaseEvent LeaseManager::MakeEvent(LeaseEvent::Type type,
                                   const LeaseRecord* lease, Port port,
                                   std::string detail, const Principal* by) {
  LeaseEvent event{type, std::nullopt, port, std::move(detail)};
  if (lease != nullptr) event.lease = *lease;
  event.by = by != nullptr ? by->id : "server";
  if (by != nullptr && by->privileged() && lease != nullptr &&
      lease->caller != by->id) {
    event.privilege = by->privilege;  // an override, logged as such
  }
  return event;
}

AuditEvent LeaseManager::Audit(LeaseEvent::Type type, const LeaseRecord* lease,
                               const Principal* by, Port port,
                               std::string detail) const {
  LeaseEvent event = MakeEvent(type, lease, port, std::move(detail), by);
  AuditEvent audit;
  audit.at = clock_->Now();
  audit.type = LeaseEventName(type);
  if (lease != nullptr) {
    audit.lease = lease->IdPrefix();
    audit.base = lease->base;
    audit.count = lease->count;
    audit.owner = lease->owner;
  }
  audit.port = port;
  audit.by = std::move(event.by);
  audit.privilege = std::move(event.privilege);
  audit.detail = std::move(event.detail);
  return audit;
}

void LeaseManager::EmitRecorded(LeaseEvent::Type type, Port port,
                                std::string detail, const Principal& by) {
  absl::Status recorded =
      store_->RecordEvent(Audit(type, nullptr, &by, port, detail));
  if (!recorded.ok()) {
    Emit(LeaseEvent::Type::kStoreError, nullptr, port,
         absl::StrCat("the audit trail misses this ", LeaseEventName(type),
                      ": ", recorded.ToString()),
         &by);
  }
  Emit(type, nullptr, port, std::move(detail), &by);
}

absl::StatusOr<std::vector<AuditEvent>> LeaseManager::Events(
    const EventQuery& query) {
  return store_->LoadEvents(query);
}

}  // namespace portlease
