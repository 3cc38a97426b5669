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

absl::Status MemoryLeaseStore::PutAudited(const LeaseRecord& lease,
                                          const AuditEvent& event) {
  absl::MutexLock lock(&mu_);
  if (!write_failure_.ok()) return write_failure_;
  leases_.insert_or_assign(lease.id, lease);
  RecordLocked(event);
  ++writes_;
  return absl::OkStatus();
}

absl::Status MemoryLeaseStore::DeleteAudited(const std::string& id,
                                             const AuditEvent& event) {
  absl::MutexLock lock(&mu_);
  if (!write_failure_.ok()) return write_failure_;
  leases_.erase(id);
  RecordLocked(event);
  ++writes_;
  return absl::OkStatus();
}

absl::Status MemoryLeaseStore::RecordEvent(const AuditEvent& event) {
  absl::MutexLock lock(&mu_);
  if (!write_failure_.ok()) return write_failure_;
  RecordLocked(event);
  return absl::OkStatus();
}

void MemoryLeaseStore::RecordLocked(const AuditEvent& event) {
  if (max_events_ == 0) return;
  events_.push_back(event);
  events_.back().seq = ++last_seq_;
  while (events_.size() > max_events_) events_.pop_front();
}

absl::StatusOr<std::vector<AuditEvent>> MemoryLeaseStore::LoadEvents(
    const EventQuery& query) {
  if (max_events_ == 0) {
    return absl::UnimplementedError("this store keeps no audit trail");
  }
  absl::MutexLock lock(&mu_);
  if (!load_failure_.ok()) return load_failure_;
  std::vector<AuditEvent> out;
  for (const AuditEvent& event : events_) {
    if (out.size() >= query.limit) break;
    if (event.seq > query.after_seq && event.at >= query.since) {
      out.push_back(event);
    }
  }
  return out;
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
