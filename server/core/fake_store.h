// MapStore: the smallest LeaseStore, a map with an injectable failure, for
// LeaseManager's unit tests. The real stores are tested against the same
// contract in server/store.
#ifndef PORTLEASE_SERVER_CORE_FAKE_STORE_H_
#define PORTLEASE_SERVER_CORE_FAKE_STORE_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/core/lease_store.h"

namespace portlease {

// Not thread-safe: one test thread at a time. Every mutating call fails
// with `fail` while it is not OK, changing nothing.
class MapStore : public LeaseStore {
 public:
  absl::StatusOr<std::vector<LeaseRecord>> LoadAll() override {
    std::vector<LeaseRecord> out;
    for (const auto& [id, r] : leases) out.push_back(r);
    return out;
  }
  absl::Status Put(const LeaseRecord& lease) override {
    if (!fail.ok()) return fail;
    leases[lease.id] = lease;
    return absl::OkStatus();
  }
  absl::Status Delete(const std::string& id) override {
    if (!fail.ok()) return fail;
    leases.erase(id);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<Port>> LoadDrainedPorts() override {
    return std::vector<Port>(drained.begin(), drained.end());
  }
  absl::Status SetPortDrained(Port port, bool on) override {
    if (!fail.ok()) return fail;
    if (on) {
      drained.insert(port);
    } else {
      drained.erase(port);
    }
    return absl::OkStatus();
  }

  // The audit trail: each event with its change, nothing when it fails.
  absl::Status PutAudited(const LeaseRecord& lease,
                          const AuditEvent& event) override {
    absl::Status put = Put(lease);
    if (put.ok()) Record(event);
    return put;
  }
  absl::Status DeleteAudited(const std::string& id,
                             const AuditEvent& event) override {
    absl::Status deleted = Delete(id);
    if (deleted.ok()) Record(event);
    return deleted;
  }
  absl::Status RecordEvent(const AuditEvent& event) override {
    if (!fail.ok()) return fail;
    Record(event);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<AuditEvent>> LoadEvents(
      const EventQuery& query) override {
    std::vector<AuditEvent> out;
    for (const AuditEvent& e : events) {
      if (e.seq > query.after_seq && e.at >= query.since &&
          out.size() < query.limit) {
        out.push_back(e);
      }
    }
    return out;
  }

  std::map<std::string, LeaseRecord> leases;
  std::vector<AuditEvent> events;
  std::set<Port> drained;
  absl::Status fail;

 private:
  void Record(const AuditEvent& event) {
    events.push_back(event);
    events.back().seq = events.size();
  }
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_FAKE_STORE_H_
