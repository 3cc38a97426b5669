// LeaseManager: the events it reports and the audit trail the store keeps.
#include <utility>

#include "absl/strings/str_cat.h"

#include "server/core/lease_manager.h"

namespace portlease {

AuditEvent LeaseManager::Audit(LeaseEvent::Type type, const LeaseRecord* lease,
                               const Principal* by, Port port,
                               std::string detail) const {
  return ToAuditEvent(MakeEvent(type, lease, port, std::move(detail), by),
                      clock_->Now());
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
