// LeaseBackend: what the server's front ends (the gRPC service, the
// portserver adapter, the daemon's housekeeping and metrics) ask of the
// lease rules, whoever keeps the leases. LeaseManager (lease_manager.h)
// keeps them for one host, in memory with a LeaseStore behind it; a
// replicated backend keeps them in a store shared by several servers.
//
// The contract below holds for every backend; each documents what it adds
// (LeaseManager: probing, host-wide claims, cool-down, the recovery
// window). Errors are those named per method, plus UNAVAILABLE when the
// backend's store cannot be reached (nothing changed then, or, where a
// method says so, the outcome is unknown and a retry with the same request
// finds it).
//
// Thread-safe: every method may be called from any thread. Callbacks
// (AcquireOrWait's `done`) run without any of the backend's locks held.
#ifndef PORTLEASE_SERVER_CORE_LEASE_BACKEND_H_
#define PORTLEASE_SERVER_CORE_LEASE_BACKEND_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/core/acquire_params.h"
#include "server/core/lease.h"
#include "server/core/lease_store.h"
#include "server/core/pool_config.h"
#include "server/core/pool_stats.h"
#include "server/core/port_view.h"
#include "server/core/principal.h"

namespace portlease {

class LeaseBackend {
 public:
  virtual ~LeaseBackend() = default;

  // How long a held lease outlives its last Hold stream.
  virtual absl::Duration hold_grace() const = 0;

  // Checks a request without touching the pool. INVALID_ARGUMENT with a
  // message naming the bad field.
  virtual absl::Status Validate(const AcquireParams& params) const = 0;

  // Grants a lease of contiguous ports, or returns the live lease of the
  // same caller with the same request_id. INVALID_ARGUMENT,
  // RESOURCE_EXHAUSTED (the pool cannot serve it now), UNAVAILABLE.
  virtual absl::StatusOr<LeaseRecord> Acquire(const AcquireParams& params) = 0;

  // Like Acquire, but a request the pool cannot serve now waits until the
  // monotonic `deadline` (DEADLINE_EXCEEDED) or CancelWait (CANCELLED).
  // `done` runs exactly once, possibly before this returns. Returns a
  // ticket for CancelWait; 0 when `done` already ran.
  virtual uint64_t AcquireOrWait(AcquireParams params, absl::Duration deadline,
                                 AcquireCallback done) = 0;
  // Completes a waiting request with CANCELLED; no-op when it is not waiting.
  virtual void CancelWait(uint64_t ticket) = 0;

  // Renew, Release, Get and AttachHolder act on a lease for `by`, which
  // must be the lease's caller or privileged (root, admin token). A wrong
  // id is NOT_FOUND whoever asks; the right id from another, unprivileged
  // caller is PERMISSION_DENIED, and changes nothing.
  //
  // Sets the expiry of a live lease to now + ttl (zero: its own ttl).
  virtual absl::StatusOr<LeaseRecord> Renew(absl::string_view id,
                                            absl::Duration ttl,
                                            const Principal& by) = 0;
  // Ends a live lease. NOT_FOUND, PERMISSION_DENIED, UNAVAILABLE (the
  // lease stays).
  virtual absl::Status Release(absl::string_view id, const Principal& by) = 0;
  // Renew and Release with the fencing token the holder got with the lease
  // (LeaseRecord::fencing_token): zero checks nothing; any other token that
  // is not the lease's is NOT_FOUND saying the lease was granted again, and
  // nothing changes, so a holder that lost its lease never renews or ends
  // the lease granted after it. This default suits a backend whose leases
  // carry no token (LeaseManager: every token is 0), so it refuses any
  // nonzero one; a replicated backend overrides both.
  virtual absl::StatusOr<LeaseRecord> Renew(absl::string_view id,
                                            absl::Duration ttl,
                                            const Principal& by,
                                            uint64_t fencing_token);
  virtual absl::Status Release(absl::string_view id, const Principal& by,
                               uint64_t fencing_token);
  // NOT_FOUND unless the lease is live; PERMISSION_DENIED.
  virtual absl::StatusOr<LeaseRecord> Get(absl::string_view id,
                                          const Principal& by) = 0;
  // Live and draining leases whose owner contains every entry of `filter`,
  // by base port: at most `limit` of them, from base port `from` on.
  virtual std::vector<LeaseRecord> List(const Metadata& filter, Port from,
                                        size_t limit) = 0;
  // Every matching lease.
  std::vector<LeaseRecord> List(const Metadata& filter) {
    return List(filter, 0, SIZE_MAX);
  }

  // A Hold stream attached to the lease: it no longer expires from a lost
  // holder while one is attached. NOT_FOUND unless live; PERMISSION_DENIED.
  virtual absl::StatusOr<LeaseRecord> AttachHolder(absl::string_view id,
                                                   const Principal& by) = 0;
  // A Hold stream ended. When the last one goes, the lease is released
  // after hold_grace() unless a holder attaches again.
  virtual void DetachHolder(absl::string_view id) = 0;

  // Re-creates or finds a lease from the snapshot its holder kept (sent
  // with a Hold or Renew), where the backend can; NOT_FOUND saying why when
  // it cannot (the holder's lease is lost).
  virtual absl::StatusOr<LeaseRecord> Reattach(const LeaseRecord& snapshot,
                                               const Principal& by) = 0;

  // The pool's view of a port.
  virtual PortView ViewPort(Port port) = 0;

  // The audit trail; UNIMPLEMENTED from a backend that keeps none.
  virtual absl::StatusOr<std::vector<AuditEvent>> Events(
      const EventQuery& query) = 0;

  // Administration: callers check that the caller may administer; `by`
  // names it in the events. See LeaseManager for the full rules.
  virtual absl::StatusOr<LeaseRecord> ForceRelease(absl::string_view id_prefix,
                                                   Port port,
                                                   const Principal& by) = 0;
  virtual absl::Status DrainPort(Port port, const Principal& by) = 0;
  virtual absl::Status UndrainPort(Port port, const Principal& by) = 0;
  virtual absl::StatusOr<PoolChange> SetPool(std::vector<PortRange> pool,
                                             std::vector<Port> exclude,
                                             const Principal& by) = 0;

  virtual PoolStats Stats() = 0;

  // Housekeeping (expiry, reclaim, waiters, ...): call it periodically;
  // NextTickDue says when it next has work to do, at the latest
  // (monotonic).
  virtual void Tick() = 0;
  virtual absl::Duration NextTickDue() = 0;

  // Recovery from lost state: for `window` from now grant nothing while
  // holders re-attach (Reattach). A backend whose state cannot be lost
  // this way ignores it. Recovering() is true during the window.
  virtual void StartRecovery(absl::Duration window, std::string why) = 0;
  virtual bool Recovering() = 0;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_LEASE_BACKEND_H_
