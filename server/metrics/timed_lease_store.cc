#include "server/metrics/timed_lease_store.h"

namespace portlease {

TimedLeaseStore::TimedLeaseStore(LeaseStore* store, Clock* clock,
                                 Histogram* put, Histogram* remove,
                                 Counter* failures)
    : store_(store),
      clock_(clock),
      put_(put),
      remove_(remove),
      failures_(failures) {}

absl::StatusOr<std::vector<LeaseRecord>> TimedLeaseStore::LoadAll() {
  return store_->LoadAll();
}

template <typename Commit>
absl::Status TimedLeaseStore::Time(Histogram* histogram, Commit commit) {
  const absl::Duration start = clock_->Monotonic();
  absl::Status status = commit();
  histogram->Observe(absl::ToDoubleSeconds(clock_->Monotonic() - start));
  if (!status.ok() && failures_ != nullptr) failures_->Increment();
  return status;
}

absl::Status TimedLeaseStore::Put(const LeaseRecord& lease) {
  return Time(put_, [&] { return store_->Put(lease); });
}

absl::Status TimedLeaseStore::Delete(const std::string& id) {
  return Time(remove_, [&] { return store_->Delete(id); });
}

absl::Status TimedLeaseStore::PutAudited(const LeaseRecord& lease,
                                         const AuditEvent& event) {
  return Time(put_, [&] { return store_->PutAudited(lease, event); });
}

absl::Status TimedLeaseStore::DeleteAudited(const std::string& id,
                                            const AuditEvent& event) {
  return Time(remove_, [&] { return store_->DeleteAudited(id, event); });
}

absl::Status TimedLeaseStore::RecordEvent(const AuditEvent& event) {
  return store_->RecordEvent(event);
}

absl::StatusOr<std::vector<AuditEvent>> TimedLeaseStore::LoadEvents(
    const EventQuery& query) {
  return store_->LoadEvents(query);
}

absl::StatusOr<std::vector<Port>> TimedLeaseStore::LoadDrainedPorts() {
  return store_->LoadDrainedPorts();
}

absl::Status TimedLeaseStore::SetPortDrained(Port port, bool drained) {
  return store_->SetPortDrained(port, drained);
}

}  // namespace portlease
