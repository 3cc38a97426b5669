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

absl::Status TimedLeaseStore::Put(const LeaseRecord& lease) {
  const absl::Duration start = clock_->Monotonic();
  absl::Status status = store_->Put(lease);
  put_->Observe(absl::ToDoubleSeconds(clock_->Monotonic() - start));
  if (!status.ok() && failures_ != nullptr) failures_->Increment();
  return status;
}

absl::Status TimedLeaseStore::Delete(const std::string& id) {
  const absl::Duration start = clock_->Monotonic();
  absl::Status status = store_->Delete(id);
  remove_->Observe(absl::ToDoubleSeconds(clock_->Monotonic() - start));
  if (!status.ok() && failures_ != nullptr) failures_->Increment();
  return status;
}

absl::StatusOr<std::vector<Port>> TimedLeaseStore::LoadDrainedPorts() {
  return store_->LoadDrainedPorts();
}

absl::Status TimedLeaseStore::SetPortDrained(Port port, bool drained) {
  return store_->SetPortDrained(port, drained);
}

}  // namespace portlease
