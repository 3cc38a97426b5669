#include "server/metrics/timed_lease_store.h"

namespace portlease {

TimedLeaseStore::TimedLeaseStore(LeaseStore* store, Clock* clock,
                                 Histogram* put, Histogram* remove,
                                 Counter* failures)
    : ForwardingLeaseStore(store),
      clock_(clock),
      put_(put),
      remove_(remove),
      failures_(failures) {}

template <typename Commit>
absl::Status TimedLeaseStore::Time(Histogram* histogram, Commit commit) {
  const absl::Duration start = clock_->Monotonic();
  absl::Status status = commit();
  histogram->Observe(absl::ToDoubleSeconds(clock_->Monotonic() - start));
  if (!status.ok() && failures_ != nullptr) failures_->Increment();
  return status;
}

absl::Status TimedLeaseStore::Put(const LeaseRecord& lease) {
  return Time(put_, [&] { return inner()->Put(lease); });
}

absl::Status TimedLeaseStore::Delete(const std::string& id) {
  return Time(remove_, [&] { return inner()->Delete(id); });
}

absl::Status TimedLeaseStore::PutAudited(const LeaseRecord& lease,
                                         const AuditEvent& event) {
  return Time(put_, [&] { return inner()->PutAudited(lease, event); });
}

absl::Status TimedLeaseStore::DeleteAudited(const std::string& id,
                                            const AuditEvent& event) {
  return Time(remove_, [&] { return inner()->DeleteAudited(id, event); });
}

}  // namespace portlease
