#include "server/core/lease_store.h"

namespace portlease {

absl::Status LeaseStore::PutAudited(const LeaseRecord& lease,
                                    const AuditEvent&) {
  return Put(lease);
}

absl::Status LeaseStore::DeleteAudited(const std::string& id,
                                       const AuditEvent&) {
  return Delete(id);
}

absl::Status LeaseStore::RecordEvent(const AuditEvent&) {
  return absl::OkStatus();
}

absl::StatusOr<std::vector<AuditEvent>> LeaseStore::LoadEvents(
    const EventQuery&) {
  return absl::UnimplementedError("this store keeps no audit trail");
}

}  // namespace portlease
