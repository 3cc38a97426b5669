// LeaseStore: where the core persists leases, and the administrator's
// drained ports. Declared here, implemented by server/store (memory, SQLite).
#ifndef PORTLEASE_SERVER_CORE_LEASE_STORE_H_
#define PORTLEASE_SERVER_CORE_LEASE_STORE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/core/lease.h"

namespace portlease {

// A durable map from lease id to LeaseRecord, plus the set of ports an
// administrator took out of service (LeaseManager::DrainPort), so that a
// drained port stays drained across a restart.
//
// Every mutating call returns only once the change is committed (survives a
// kill -9 of the process). The core calls a store from several threads at
// once (Acquire and Release commit without the manager's lock), so
// implementations must be thread-safe; they may commit concurrent calls
// together (SqliteLeaseStore's group commit).
//
// Errors: UNAVAILABLE for a transient failure (disk full, database locked,
// read-only file); DATA_LOSS for a corrupt store; INTERNAL otherwise. After a
// failed call the store is unchanged.
class LeaseStore {
 public:
  virtual ~LeaseStore() = default;

  // Every stored lease, in no particular order.
  virtual absl::StatusOr<std::vector<LeaseRecord>> LoadAll() = 0;

  // Inserts the lease, or replaces the one with the same id.
  virtual absl::Status Put(const LeaseRecord& lease) = 0;

  // Removes the lease with this id. Removing an unknown id is OK.
  virtual absl::Status Delete(const std::string& id) = 0;

  // The drained ports, ascending, each once.
  virtual absl::StatusOr<std::vector<Port>> LoadDrainedPorts() = 0;

  // Records that `port` is drained (true) or no longer drained (false).
  // Setting the state a port already has is OK.
  virtual absl::Status SetPortDrained(Port port, bool drained) = 0;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_LEASE_STORE_H_
