// MemoryLeaseStore: a LeaseStore kept in memory. Nothing survives the
// process; use it for tests and for a server run with no durable state.
//
// It doubles as the test double for code that uses a LeaseStore: tests can
// make its calls fail (set_write_failure, set_load_failure) to check how the
// caller handles a failing store. Production code never calls those.
//
// Example:
//   MemoryLeaseStore store;
//   store.set_write_failure(absl::UnavailableError("disk full"));
//   EXPECT_EQ(manager->Release(id).code(), absl::StatusCode::kUnavailable);
//   store.set_write_failure(absl::OkStatus());
//
// Thread-safe.
#ifndef PORTLEASE_SERVER_STORE_MEMORY_LEASE_STORE_H_
#define PORTLEASE_SERVER_STORE_MEMORY_LEASE_STORE_H_

#include <cstdint>
#include <deque>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/core/lease.h"
#include "server/core/lease_store.h"

namespace portlease {

class MemoryLeaseStore : public LeaseStore {
 public:
  // Keeps the newest `max_events` audit events.
  explicit MemoryLeaseStore(size_t max_events = kDefaultMaxAuditEvents)
      : max_events_(max_events) {}
  MemoryLeaseStore(const MemoryLeaseStore&) = delete;
  MemoryLeaseStore& operator=(const MemoryLeaseStore&) = delete;

  // LeaseStore. Never fails unless a failure was injected.
  absl::StatusOr<std::vector<LeaseRecord>> LoadAll() override;
  absl::Status Put(const LeaseRecord& lease) override;
  absl::Status Delete(const std::string& id) override;
  absl::StatusOr<std::vector<Port>> LoadDrainedPorts() override;
  absl::Status SetPortDrained(Port port, bool drained) override;
  absl::Status PutAudited(const LeaseRecord& lease,
                          const AuditEvent& event) override;
  absl::Status DeleteAudited(const std::string& id,
                             const AuditEvent& event) override;
  absl::Status RecordEvent(const AuditEvent& event) override;
  absl::StatusOr<std::vector<AuditEvent>> LoadEvents(
      const EventQuery& query) override;

  // Test hook. While `status` is not OK, Put, Delete, SetPortDrained and
  // the audited writes return it and change nothing. OK (the default) turns the failure off.
  void set_write_failure(absl::Status status);
  // Test hook. While `status` is not OK, LoadAll and LoadDrainedPorts
  // return it.
  void set_load_failure(absl::Status status);

  // Number of stored leases.
  size_t size() const;
  // Number of Put, Delete and SetPortDrained calls that succeeded, so tests can check that a
  // change was (or was not) persisted.
  int writes() const;

 private:
  void RecordLocked(const AuditEvent& event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_events_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, LeaseRecord> leases_ ABSL_GUARDED_BY(mu_);
  std::set<Port> drained_ ABSL_GUARDED_BY(mu_);
  absl::Status write_failure_ ABSL_GUARDED_BY(mu_);
  absl::Status load_failure_ ABSL_GUARDED_BY(mu_);
  int writes_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<AuditEvent> events_ ABSL_GUARDED_BY(mu_);
  uint64_t last_seq_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_STORE_MEMORY_LEASE_STORE_H_
