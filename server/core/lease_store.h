// LeaseStore: where the core persists leases, and the administrator's
// drained ports. Declared here, implemented by server/store (memory, SQLite).
#ifndef PORTLEASE_SERVER_CORE_LEASE_STORE_H_
#define PORTLEASE_SERVER_CORE_LEASE_STORE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/lease.h"

namespace portlease {

// One entry of the audit trail: a change to a lease or to the pool, who made
// it, and when. It names a lease by its id prefix only (the trail is readable
// by every caller, like List). The store keeps it with the change it
// records (LeaseStore::PutAudited, DeleteAudited), so an acknowledged change
// is never missing from the trail, even after a kill -9.
struct AuditEvent {
  // Assigned by the store: ascending, never reused. 0 before it is stored.
  uint64_t seq = 0;
  absl::Time at;
  // LeaseEventName(): "granted", "renewed", "released", ...
  std::string type;
  // The lease concerned (id prefix, base, count, owner); lease empty when
  // the event concerns a port or the pool.
  std::string lease;
  Port base = 0;
  uint32_t count = 0;
  Metadata owner;
  // The port concerned (a drained port, a claimed one), or 0.
  Port port = 0;
  // Who made the change (a Principal id, or "server"), the privilege of an
  // override ("root", "admin-token"), and what else there is to say.
  std::string by;
  std::string privilege;
  std::string detail;
};

// How many audit events a store keeps by default (about 20 MB in SQLite).
inline constexpr size_t kDefaultMaxAuditEvents = 100000;

// Which audit events LeaseStore::LoadEvents returns: those after `after_seq`
// and at or after `since`, oldest first, at most `limit`.
struct EventQuery {
  uint64_t after_seq = 0;
  absl::Time since = absl::InfinitePast();
  size_t limit = 1000;
};

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

  // The audit trail. PutAudited and DeleteAudited are Put and Delete with
  // `event` recorded in the same commit: both are durable, or neither.
  // RecordEvent records an event that changes no lease (a drained port, a
  // new pool). A store keeps a bounded number of events, dropping the
  // oldest; one that keeps none (SqliteOptions::max_events = 0) still makes
  // the changes, and its LoadEvents is UNIMPLEMENTED. Pure virtual on
  // purpose: a decorator that forgot them would drop the trail silently.
  virtual absl::Status PutAudited(const LeaseRecord& lease,
                                  const AuditEvent& event) = 0;
  virtual absl::Status DeleteAudited(const std::string& id,
                                     const AuditEvent& event) = 0;
  virtual absl::Status RecordEvent(const AuditEvent& event) = 0;
  virtual absl::StatusOr<std::vector<AuditEvent>> LoadEvents(
      const EventQuery& query) = 0;

  // The drained ports, ascending, each once.
  virtual absl::StatusOr<std::vector<Port>> LoadDrainedPorts() = 0;

  // Records that `port` is drained (true) or no longer drained (false).
  // Setting the state a port already has is OK.
  virtual absl::Status SetPortDrained(Port port, bool drained) = 0;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_LEASE_STORE_H_
