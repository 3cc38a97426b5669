#include "server/store/memory_lease_store.h"

#include <utility>

namespace portlease {

absl::StatusOr<std::vector<LeaseRecord>> MemoryLeaseStore::LoadAll() {
  absl::MutexLock lock(&mu_);
  if (!load_failure_.ok()) return load_failure_;
  std::vector<LeaseRecord> out;
  out.reserve(leases_.size());
  for (const auto& [id, lease] : leases_) out.push_back(lease);
  return out;
}

absl::Status MemoryLeaseStore::Put(const LeaseRecord& lease) {
  absl::MutexLock lock(&mu_);
  if (!write_failure_.ok()) return write_failure_;
  leases_.insert_or_assign(lease.id, lease);
  ++writes_;
  return absl::OkStatus();
}

absl::Status MemoryLeaseStore::Delete(const std::string& id) {
  absl::MutexLock lock(&mu_);
  if (!write_failure_.ok()) return write_failure_;
  leases_.erase(id);
  ++writes_;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Port>> MemoryLeaseStore::LoadDrainedPorts() {
  absl::MutexLock lock(&mu_);
  if (!load_failure_.ok()) return load_failure_;
  return std::vector<Port>(drained_.begin(), drained_.end());
}

absl::Status MemoryLeaseStore::SetPortDrained(Port port, bool drained) {
  absl::MutexLock lock(&mu_);
  if (!write_failure_.ok()) return write_failure_;
  if (drained) {
    drained_.insert(port);
  } else {
    drained_.erase(port);
  }
  ++writes_;
  return absl::OkStatus();
}

void MemoryLeaseStore::set_write_failure(absl::Status status) {
  absl::MutexLock lock(&mu_);
  write_failure_ = std::move(status);
}

void MemoryLeaseStore::set_load_failure(absl::Status status) {
  absl::MutexLock lock(&mu_);
  load_failure_ = std::move(status);
}

size_t MemoryLeaseStore::size() const {
  absl::MutexLock lock(&mu_);
  return leases_.size();
}

int MemoryLeaseStore::writes() const {
  absl::MutexLock lock(&mu_);
  return writes_;
}

}  // namespace portlease
