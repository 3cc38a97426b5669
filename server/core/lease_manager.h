// LeaseManager: the lease rules. Grants, renews, releases and expires leases
// of contiguous port blocks, persists every change through a LeaseStore
// before acknowledging it, claims ports host-wide through PortClaims and
// probes them through a PortProber before granting them, and queues waiting
// requests FIFO.
//
// Example:
//   RealClock clock;
//   MemoryLeaseStore store;
//   TrustingProber prober;
//   auto manager = LeaseManager::Create(options, &clock, &store, &prober);
//   AcquireParams params;
//   params.names = {"redis", "worker"};
//   absl::StatusOr<LeaseRecord> lease = (*manager)->Acquire(params);
//
// Thread-safe. Callbacks passed to AcquireOrWait run without the manager's
// lock held, on whichever thread completes them.
//
// Locking rule. One lock, mu_, guards all of the manager's state. No
// callback runs under it except LeaseManagerOptions::on_event (kept
// cheap). I/O runs without it in: GrantWithIoUnlocked (Acquire, and
// AcquireOrWait's first try: claim, probe, commit), EndReleaseWithIoUnlocked
// (Release's commit), CheckReleasedPorts' probes (Tick) and ViewPort's claim
// lookup. The I/O that stays under the lock, each for its reason:
//   - GrantWithLockHeld (waiters): FIFO; a later request must not take the
//     ports the head of the queue is being granted.
//   - Renew's PutAudited and AttachHolder's Put (held): an unlocked Put
//     could bring back a row that a concurrent Release deleted.
//   - EndLeaseWithLockHeld (expiry, reclaim, force-release: Held and the
//     commit), ProbeDraining, and DrainReleased's claim and commit. Each
//     stops at a probe fault or a refused commit and is retried by the next
//     Tick. They stay under the lock because an end must be atomic with
//     the calls that race it: a Hold re-attaching to a lease whose grace
//     just ran out either comes first (and the lease stays) or finds it
//     gone. Ending them as Release does (out of the indexes, probe and
//     commit unlocked) was tried: it lets such a Hold succeed on a lease
//     being deleted, and RestartLoopTest (20 kill -9 restarts) failed in 1
//     of 3 runs with it, the restarted server finding fewer stored leases
//     than it had recorded. A cheaper Held probe is the way to shorten what
//     a List waits behind here.
//   - The administrators' commits (CommitDrained, EmitRecorded's
//     RecordEvent): rare, and their change applies only once committed.
//   - Reattach's claim and commit: only during the recovery window.
//   - Load's claims and deletes: at start, before anyone else calls.
//   - Unclaim (F_UNLCK, never blocks) and MarkClaimedElsewhere's Holder.
//
// Acquire probes ports and commits to the store, and Release commits,
// without holding the manager's lock, so concurrent requests overlap (and
// a batching store commits them together). Meanwhile the ports of a grant
// are reserved and the ports of a release stay leased: a port is handed
// out again only after the store has committed the end of its previous
// lease, and the store never holds two live leases on one port. A grant
// whose commit fails gives its ports back; a release whose commit fails
// leaves the lease as it was.
//
// A release answers without probing its ports: the next Tick probes them,
// and a block still held (PortProber::Held: a leaked child still
// listening) becomes a draining lease again, unless it was granted
// meanwhile. An expiry or reclaim asks Held before ending the lease, and a
// draining lease ends once Held finds nothing. Closed connections' TIME_WAIT
// does not hold a lease, but grants ask Busy, which counts it: no port
// anything still uses is granted.
//
// Host-wide claims (LeaseManagerOptions::claims): a block is claimed before
// it is probed, and the claim is kept while the ports are this server's
// (leased, draining, cooling down); it is given up when a port returns to
// the free pool or a grant fails. A port another server claims is skipped
// and backed off like a bound one. At start, the stored leases are claimed
// again; a lease whose ports another server claimed while this one was
// down is ended (event kClaimLost, its holder's calls get NOT_FOUND saying
// so).
#ifndef PORTLEASE_SERVER_CORE_LEASE_MANAGER_H_
#define PORTLEASE_SERVER_CORE_LEASE_MANAGER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/acquire_params.h"
#include "server/core/clock.h"
#include "server/core/lease.h"
#include "server/core/lease_backend.h"
#include "server/core/lease_event.h"
#include "server/core/lease_manager_options.h"
#include "server/core/lease_store.h"
#include "server/core/lease_table.h"
#include "server/core/pool_config.h"
#include "server/core/pool_stats.h"
#include "server/core/port_claims.h"
#include "server/core/port_prober.h"
#include "server/core/port_table.h"
#include "server/core/port_view.h"
#include "server/core/principal.h"
#include "server/core/request_rules.h"
#include "server/core/wait_queue.h"

namespace portlease {

// The single-host LeaseBackend. The contract of each method is
// LeaseBackend's; the comments below add this backend's rules.
class LeaseManager : public LeaseBackend {
 public:
  // Loads the store's leases: live unexpired ones keep their ports; expired
  // ones end (draining if still bound). A held one (LeaseRecord::held) is
  // reclaimed one hold grace from now unless a holder attaches again. Claims their ports again; a lease
  // whose ports another server claims now is ended (kClaimLost) and
  // deleted from the store. Loads the drained ports too: those
  // in the pool stay out of service. Errors: INVALID_ARGUMENT for bad
  // options; DATA_LOSS when stored leases overlap; the store's errors.
  static absl::StatusOr<std::unique_ptr<LeaseManager>> Create(
      LeaseManagerOptions options, Clock* clock, LeaseStore* store,
      PortProber* prober);

  LeaseManager(const LeaseManager&) = delete;
  LeaseManager& operator=(const LeaseManager&) = delete;
  ~LeaseManager();

  // How long a held lease outlives its last Hold stream.
  absl::Duration hold_grace() const override { return options_.hold_grace; }

  // Checks a request without touching the pool. INVALID_ARGUMENT with a
  // message naming the bad field.
  absl::Status Validate(const AcquireParams& params) const override;

  // Grants a lease, or returns the live lease of the same caller with the
  // same request_id (another caller's request_id is another request).
  // INVALID_ARGUMENT (see Validate; request_id reused for another request;
  // more ports than the whole pool has), RESOURCE_EXHAUSTED (free vs asked,
  // busy ports skipped), UNAVAILABLE (store commit failed, or the probe
  // faulted: the server out of file descriptors; nothing granted, nothing
  // marked busy).
  absl::StatusOr<LeaseRecord> Acquire(const AcquireParams& params) override;

  // Like Acquire, but a request the pool cannot serve now waits in a FIFO
  // queue until the monotonic `deadline` (DEADLINE_EXCEEDED) or CancelWait
  // (CANCELLED). `done` runs exactly once, possibly before this returns.
  // Returns a ticket for CancelWait; 0 when `done` already ran.
  uint64_t AcquireOrWait(AcquireParams params, absl::Duration deadline,
                         AcquireCallback done) override;
  // Completes a queued request with CANCELLED; no-op when it is not queued.
  void CancelWait(uint64_t ticket) override;

  // Renew, Release, Get and AttachHolder act on a lease for `by`, which
  // must be the lease's caller or privileged (root, admin token; such an
  // override is marked in the event). A wrong id is NOT_FOUND whoever
  // asks; the right id from another, unprivileged caller is
  // PERMISSION_DENIED, and changes nothing.
  //
  // Sets the expiry of a live lease to now + ttl (zero: its own ttl).
  // NOT_FOUND, PERMISSION_DENIED, INVALID_ARGUMENT (ttl), UNAVAILABLE
  // (store).
  absl::StatusOr<LeaseRecord> Renew(absl::string_view id, absl::Duration ttl,
                                    const Principal& by) override;
  // With a fencing token: LeaseBackend's; leases here carry none, so a
  // nonzero token is NOT_FOUND.
  using LeaseBackend::Release;
  using LeaseBackend::Renew;

  // Ends a live lease; its ports cool down, and the next Tick makes it a
  // draining lease if they are still bound. NOT_FOUND, PERMISSION_DENIED,
  // UNAVAILABLE (store; the lease stays).
  absl::Status Release(absl::string_view id, const Principal& by) override;

  // NOT_FOUND unless the lease is live; PERMISSION_DENIED.
  absl::StatusOr<LeaseRecord> Get(absl::string_view id, const Principal& by) override;

  // Live and draining leases whose owner contains every entry of `filter`,
  // by base port: at most `limit` of them, from base port `from` on.
  std::vector<LeaseRecord> List(const Metadata& filter, Port from,
                                size_t limit) override;
  using LeaseBackend::List;

  // A Hold stream attached to the lease: it no longer expires from a lost
  // holder. The first one marks the lease held in the store
  // (LeaseRecord::held), so that after a restart the lease is reclaimed one
  // hold grace later unless a holder attaches again. NOT_FOUND unless live;
  // PERMISSION_DENIED (see Renew).
  absl::StatusOr<LeaseRecord> AttachHolder(absl::string_view id,
                                           const Principal& by) override;
  // A Hold stream ended. When the last one goes, the lease is released
  // after hold_grace unless a holder attaches again.
  void DetachHolder(absl::string_view id) override;

  // The pool's view of a port.
  PortView ViewPort(Port port) override;

  // The audit trail: every grant, renewal and end of a lease, every drained
  // port and pool change, as the store recorded it with the change
  // (AuditEvent). UNIMPLEMENTED from a store that keeps none.
  absl::StatusOr<std::vector<AuditEvent>> Events(const EventQuery& query) override;

  // Administration. Callers check that the caller may administer; `by`
  // names it in the events.
  //
  // Ends a live lease on an administrator's behalf, found by its id prefix
  // (at least 8 characters; must match exactly one live lease) or, when
  // `id_prefix` is empty, by any of its ports. Returns the ended lease.
  // INVALID_ARGUMENT (neither or both given, prefix too short or ambiguous),
  // NOT_FOUND (no live lease matches), UNAVAILABLE (store).
  absl::StatusOr<LeaseRecord> ForceRelease(absl::string_view id_prefix,
                                           Port port, const Principal& by) override;
  // Takes a pool port out of service: a free (or cooling down, or backed
  // off) port at once, a leased or draining one when its lease is over.
  // Persisted in the store before it takes effect, so it survives a
  // restart. Idempotent. INVALID_ARGUMENT when the port is not in the pool
  // (or excluded); UNAVAILABLE when the store refused (nothing changed).
  absl::Status DrainPort(Port port, const Principal& by) override;
  // Puts a port taken out by DrainPort back into service (persisted first,
  // like DrainPort). Idempotent. INVALID_ARGUMENT when the port is neither
  // drained nor in the pool; UNAVAILABLE (store; nothing changed). A port
  // drained and then left out of the pool by SetPool can be undrained.
  absl::Status UndrainPort(Port port, const Principal& by) override;
  // Replaces the pool and the excluded ports: PoolConfig::Make with the
  // options' pool_fit (so the always-excluded ports stay excluded, and the
  // pool is fitted as at start). New grants come from the new pool only.
  // Live and draining leases on ports that leave the pool are not revoked:
  // they stay valid until released or expired, and their ports are not
  // granted again. Drained ports stay drained. Runtime only: nothing is
  // written to the store, so a restart applies LeaseManagerOptions again.
  // That is deliberate: the pool is configuration (portleased's --pool and
  // --exclude), and a stored override silently beating the configuration
  // would make editing it useless; drained ports, by contrast, record
  // incidents that no flag expresses, so DrainPort is persisted.
  // INVALID_ARGUMENT (nothing changed) when PoolConfig::Make refuses: a bad
  // or overlapping range, or no grantable port left.
  absl::StatusOr<PoolChange> SetPool(std::vector<PortRange> pool,
                                     std::vector<Port> exclude,
                                     const Principal& by) override;

  PoolStats Stats() override;

  // Housekeeping: probes the ports of leases released since the last
  // Tick, expires leases, reclaims leases whose holders are gone,
  // re-probes draining ports, ends cool-downs and busy back-offs, serves and
  // times out waiters. Call it periodically (the server: every 100 ms).
  void Tick() override;

  // When Tick next has work to do, at the latest (monotonic).
  absl::Duration NextTickDue() override;

  // Recovery from lost state (lease_manager_recovery.cc).
  //
  // The server found fewer leases than it last recorded (a deleted or
  // emptied database, a damaged WAL): for `window` from now it grants
  // nothing, so that no port of a job still running is handed out, while
  // the holders re-attach their leases (Reattach). Acquire and
  // AcquireOrWait answer UNAVAILABLE ("recovering lost state (`why`) ...
  // retry in Ns"), which clients retry; a replay of a live lease's
  // request_id is still answered. Emits kRecovering now and kRecovered when
  // the window ends. A zero window does nothing.
  void StartRecovery(absl::Duration window, std::string why) override;
  // True during the recovery window.
  bool Recovering() override;

  // Re-creates a lease this server does not know, from the snapshot its
  // holder kept (sent with a Hold or Renew): only during the recovery
  // window, with `by` as its caller (identity decides, as for a grant),
  // when every port is in the pool and neither leased, draining nor
  // cooling down here nor claimed by another server. A port merely bound
  // by a process is accepted: the holder's own job binds it. The lease
  // gets a new expiry, now + its ttl (within today's limits), as if
  // renewed; its request_id is not restored. Emits kReattached. A lease
  // this server knows is returned as is (Authorize applies).
  // NOT_FOUND saying why when refused (not recovering, a port taken or
  // claimed elsewhere, malformed ports or names): the holder's lease is
  // lost; INVALID_ARGUMENT when the snapshot lacks a full lease id;
  // PERMISSION_DENIED (a known lease of another caller); UNAVAILABLE
  // (store).
  absl::StatusOr<LeaseRecord> Reattach(const LeaseRecord& snapshot,
                                       const Principal& by) override;

 private:
  using Entry = LeaseTable::Entry;

  LeaseManager(LeaseManagerOptions options, const PoolConfig& pool,
               Clock* clock, LeaseStore* store, PortProber* prober);
  absl::Status Load();
  // During the recovery window: UNAVAILABLE saying when to retry.
  absl::Status RecoveringError() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the recovery window once it is over.
  void CheckRecoveryOver() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Why `snapshot` cannot be re-created (OK when it can).
  absl::Status CheckReattachable(const LeaseRecord& snapshot)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The grant path (lease_manager_grant.cc). GrantWithIoUnlocked, for the
  // caller's own request, claims, probes and commits with mu_ released (the
  // block reserved meanwhile), so that concurrent requests overlap and
  // their commits can share a transaction; mu_ is held again on return.
  // GrantWithLockHeld, for a waiter, keeps mu_ held throughout: waiters are
  // served in FIFO order, and a later request must not take the ports the
  // head of the queue is being granted.
  absl::StatusOr<LeaseRecord> GrantWithIoUnlocked(const AcquireParams& params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<LeaseRecord> GrantWithLockHeld(const AcquireParams& params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The answer to a request whose request_id is known: the live lease it
  // got, INVALID_ARGUMENT (another request), or UNAVAILABLE (being granted
  // right now); nullopt for a new request.
  std::optional<absl::StatusOr<LeaseRecord>> AnswerRetry(
      const AcquireParams& params) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Why a valid new request cannot be granted whatever the pool holds:
  // the recovery window, the caller's share, the pool's size.
  absl::Status CheckGrantable(const AcquireParams& params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What a claim and a probe found for a candidate block.
  struct BlockProbe {
    std::vector<Port> claimed;  // ports another server claims
    absl::StatusOr<std::vector<Port>> busy = std::vector<Port>();
    bool usable() const {
      return claimed.empty() && busy.ok() && busy->empty();
    }
  };
  // Claims the block, then probes it (I/O; the caller decides the lock).
  BlockProbe ClaimAndProbe(Port base, uint32_t count, bool udp);
  // True when `probe` found the block usable; otherwise backs off what it
  // found (adding to `skipped`) and returns false, or the probe's fault
  // (the claim given back).
  absl::StatusOr<bool> TakeUsable(Port base, uint32_t count,
                                  const BlockProbe& probe, uint32_t* skipped)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  LeaseRecord NewGrantRecord(const AcquireParams& params, Port base,
                             uint32_t count) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<LeaseRecord> CommitGrantWithIoUnlocked(
      LeaseRecord record, const AcquireParams& params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After the commit of `record`: indexed and announced, or, when the store
  // refused, its claim given back and UNAVAILABLE.
  absl::StatusOr<LeaseRecord> InstallGrant(LeaseRecord record,
                                           const absl::Status& committed,
                                           const Principal& by)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // RESOURCE_EXHAUSTED: what the pool holds, and `skipped` found just now.
  absl::Status Exhausted(uint32_t count, uint32_t skipped) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Housekeep(Completions* done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The end path (lease_manager_end.cc). A lease ends draining when its
  // ports are still bound, else deleted and its ports quarantined.
  // UNAVAILABLE, the lease left as it was, when the store refused or the
  // probe faulted (the server out of file descriptors). `by`: who ended it
  // (nullptr: the server).
  //
  // A Release of live lease `id`: commits with mu_ released and without a
  // probe (CheckReleasedPorts probes later), the lease marked `ending`
  // meanwhile.
  absl::Status EndReleaseWithIoUnlocked(std::string id, const Principal& by)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // An expiry, a reclaim or a force-release: probes (Held) and commits with
  // mu_ held (see the locking rule above).
  absl::Status EndLeaseWithLockHeld(std::string id, LeaseEvent::Type why,
                                    const Principal* by)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies the end of lease `id` once the store answered `committed`:
  // draining on `busy`, else deleted and its ports quarantined, the record
  // moved to `freed` when given.
  absl::Status ApplyEnd(const std::string& id, LeaseEvent::Type why,
                        const Principal* by, const absl::Status& committed,
                        const std::vector<Port>& busy,
                        LeaseRecord* freed = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ProbeDraining(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Probes the ports of the leases released since the last call (without
  // the lock) and turns each block still bound back into a draining lease,
  // unless it was granted again meanwhile.
  void CheckReleasedPorts() ABSL_LOCKS_EXCLUDED(mu_);
  void DrainReleased(LeaseRecord record, const std::vector<Port>& busy)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A lease just made draining in leases_ (stored as such) whose `busy`
  // ports are still bound: its ports draining, the event emitted.
  void StartDraining(Entry* entry, const std::vector<Port>& busy)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores `port`'s drained flag; on failure emits the store error and
  // returns UNAVAILABLE saying the port is left as it was.
  absl::Status CommitDrained(Port port, bool drained, const Principal& by)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FreeToQuarantine(Port first, uint32_t count)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `detail` says why (default: bound by another process).
  void MarkBusy(Port port, absl::string_view detail = {})
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ports of `claimed` that another server claims: backed off, with the
  // claimer named in the event.
  void MarkClaimedElsewhere(const std::vector<Port>& claimed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // At start: a stored lease whose ports another server claimed while this
  // one was down. Deletes it, backs its ports off, remembers why for its
  // holder. Returns the store's error when the delete is refused.
  absl::Status DropClaimLost(LeaseRecord record,
                             const std::vector<Port>& claimed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // NOT_FOUND for `id`, saying why when the lease was lost at start.
  absl::Status NotFound(absl::string_view id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The live lease `id` (with include_ending, also one a Release is
  // ending), when `by` may `verb` it: NOT_FOUND (see NotFound) or
  // PERMISSION_DENIED (Authorize) otherwise.
  absl::StatusOr<Entry*> FindAuthorized(absl::string_view id,
                                        const Principal& by,
                                        absl::string_view verb,
                                        bool include_ending = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetState(Port first, uint32_t count, PortView::State state)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ServeWaiters(Completions* done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // RESOURCE_EXHAUSTED, naming the limit and its flag, when the request's
  // caller holds max_leases_per_owner live leases already, or the request's
  // ports would take it past max_ports_per_owner (RequestRules); a retry of
  // a live lease's request is exempt.
  absl::Status CheckOwnerLimit(const AcquireParams& params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // INVALID_ARGUMENT when the request asks for more ports than the whole
  // pool has: no wait can grant it.
  absl::Status CheckFitsPool(const AcquireParams& params) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return rules_.CheckFitsPool(params, ports_.pool_size());
  }
  // `by`: who did it (nullptr: the server). Its privilege is recorded only
  // when it acted on another caller's lease.
  void Emit(LeaseEvent::Type type, const LeaseRecord* lease, Port port,
            std::string detail, const Principal* by = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records the event of an administrator's change that touches no lease
  // (a drained port, a new pool) in the audit trail, then emits it.
  void EmitRecorded(LeaseEvent::Type type, Port port, std::string detail,
                    const Principal& by) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The audit record the store keeps with the change, stamped now
  // (lease_manager_audit.cc). Need not hold mu_.
  AuditEvent Audit(LeaseEvent::Type type, const LeaseRecord* lease,
                   const Principal* by, Port port = 0,
                   std::string detail = "") const;

  const LeaseManagerOptions options_;
  const RequestRules rules_;
  Clock* const clock_;
  LeaseStore* const store_;
  PortProber* const prober_;
  NoClaims no_claims_;
  PortClaims* const claims_;  // options_.claims, else &no_claims_

  absl::Mutex mu_;
  PortTable ports_ ABSL_GUARDED_BY(mu_);
  LeaseTable leases_ ABSL_GUARDED_BY(mu_);
  using RequestKey = std::pair<std::string, std::string>;
  // Grants being committed without the lock: their ids and request keys.
  absl::flat_hash_set<std::string> pending_ids_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<RequestKey> pending_request_ids_ ABSL_GUARDED_BY(mu_);
  // Released leases whose ports Tick has not probed yet. Bounded: beyond
  // it a release goes unchecked (a grant probes its ports anyway).
  static constexpr size_t kMaxUncheckedReleases = 65536;
  std::vector<LeaseRecord> unchecked_releases_ ABSL_GUARDED_BY(mu_);
  bool serve_pending_ ABSL_GUARDED_BY(mu_) = false;
  WaitQueue waiters_ ABSL_GUARDED_BY(mu_);
  // Leases ended at start because another server claimed their ports:
  // id -> why, for their holders' NOT_FOUND. At most one entry per stored
  // lease, written only by Load.
  absl::flat_hash_map<std::string, std::string> lost_ ABSL_GUARDED_BY(mu_);
  // Recovery window (StartRecovery): its monotonic end, zero when none;
  // what was found; leases re-attached during it.
  absl::Duration recovery_until_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  std::string recovery_why_ ABSL_GUARDED_BY(mu_);
  uint32_t reattached_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_LEASE_MANAGER_H_
