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

  std::map<std::string, LeaseRecord> leases;
  std::set<Port> drained;
  absl::Status fail;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_FAKE_STORE_H_
