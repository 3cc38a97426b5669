// EtcdLeaseBackend: the LeaseBackend of a replicated portleased. Several
// replicas keep their leases in one etcd cluster, and no port is ever
// granted twice: every grant is one etcd transaction that creates the
// block's port keys only if none of them (nor their cool-down keys, nor the
// request's idempotency key) exists.
//
//   EtcdLeaseBackendOptions options;
//   options.rules.pool = {{20000, 29999}};
//   auto backend = EtcdLeaseBackend::Create(options, &clock, client.get());
//   absl::StatusOr<LeaseRecord> lease = (*backend)->Acquire(params);
//
// State in etcd: keys.h. Each lease's keys share one etcd lease L, so etcd
// deletes them together when L runs out. A grant (LeaseGrant(ttl), then one
// Txn) is guarded by Absent(ports/p) and Absent(quarantine/p) for each port
// and Absent(requests/<caller>/<request_id>); it puts ports/p, leases/<id>
// and the request key on L. The Txn's revision, the create_revision of
// leases/<id>, is the lease's fencing token (LeaseRecord::fencing_token).
// A lease ends (Release, expiry) by a Txn guarded by the record's create
// (Release) or mod (expiry) revision that deletes its keys and puts
// quarantine/p on a short etcd lease (the cool-down).
//
// Each replica caches the state (LeaseCache: a Range, then a watch from
// its revision; reloaded when etcd compacted past it). The cache only
// proposes candidate blocks, first fit from a per-replica rotating cursor;
// a candidate another replica took first fails its Txn's guard, and the
// next candidate is tried (at most max_attempts). List, Stats and ViewPort
// read the cache; Get, Renew, Release and AttachHolder read etcd.
//
// Holding: AttachHolder moves the lease's keys to a hold lease of TTL
// hold_grace (whole seconds, at least etcd's minimum) that this replica
// keeps alive (every grace/3) while a local holder is attached. When the
// last one detaches (or the replica dies) nobody keeps it alive and etcd
// deletes the keys one grace later, unless a holder attaches on another
// replica, which then keeps the same hold lease alive.
//
// ForceRelease reads etcd (not the cache) and ends the lease it found by a
// Txn guarded by its fencing token.
//
// Not implemented: the audit trail (Events), DrainPort, UndrainPort and
// SetPool answer UNIMPLEMENTED; StartRecovery does
// nothing (etcd does not lose a replica's state); per-caller limits are
// checked against this replica's cache, so racing replicas can exceed
// them by a little.
//
// Thread-safe. AcquireOrWait's callbacks run without the backend's lock,
// on the calling thread, Tick's, or the backend's housekeeping thread.
#ifndef PORTLEASE_SERVER_REPLICATED_ETCD_LEASE_BACKEND_H_
#define PORTLEASE_SERVER_REPLICATED_ETCD_LEASE_BACKEND_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/clock.h"
#include "server/core/lease_backend.h"
#include "server/core/lease_manager_options.h"
#include "server/core/port_prober.h"
#include "server/core/request_rules.h"
#include "server/core/wait_queue.h"
#include "server/etcd/etcd_client.h"
#include "server/etcd/etcd_watch.h"
#include "server/replicated/keys.h"
#include "server/replicated/lease_cache.h"

namespace portlease::replicated {

struct EtcdLeaseBackendOptions {
  // The pool, the TTL bounds, the request limits, hold_grace, busy_backoff,
  // max_waiters and new_id, as for LeaseManager. Not used: cooldown (see
  // quarantine), claims, on_event, drain_probe_interval.
  LeaseManagerOptions rules;
  // Where the state lives in etcd (keys.h). Replicas sharing a pool share it.
  std::string prefix = "/portlease/";
  // How long a released or expired port stays out of the pool, rounded up
  // to whole seconds (at least etcd's minimum lease TTL). Zero: none.
  absl::Duration quarantine = absl::Seconds(2);
  // Probes candidate blocks before their Txn and skips busy ports (backed
  // off for rules.busy_backoff on this replica). Null: no probing; set it
  // only on the host whose ports the pool holds. Must outlive the backend.
  PortProber* probe = nullptr;
  // Most candidate blocks one Acquire tries (Txns and probes).
  uint32_t max_attempts = 8;
  // Called on the housekeeping thread when etcd stops answering it (the
  // error: a reload of the state or a holder's keepalive failed) and when
  // it answers again (OK). Null: not told.
  std::function<void(const absl::Status&)> on_etcd_state;
};

class EtcdLeaseBackend : public LeaseBackend {
 public:
  // Most ports in one lease: a grant's Txn compares two keys per port plus
  // the request key, within etcd's default --max-txn-ops of 128.
  static constexpr uint32_t kMaxPortsPerLease = 63;

  // Reads the state under options.prefix and starts watching it.
  // INVALID_ARGUMENT for bad options; UNAVAILABLE when etcd cannot be read.
  // `clock` and `client` must outlive the backend.
  static absl::StatusOr<std::unique_ptr<EtcdLeaseBackend>> Create(
      EtcdLeaseBackendOptions options, Clock* clock, etcd::EtcdClient* client);
  // Stops the watch and the keepalives (holders' leases then end one grace
  // later unless they attach elsewhere) and answers waiters UNAVAILABLE.
  // Revokes nothing: the leases live on in etcd.
  ~EtcdLeaseBackend() override;
  EtcdLeaseBackend(const EtcdLeaseBackend&) = delete;
  EtcdLeaseBackend& operator=(const EtcdLeaseBackend&) = delete;

  absl::Duration hold_grace() const override {
    return options_.rules.hold_grace;
  }
  // LeaseManager's checks, and at most kMaxPortsPerLease ports.
  absl::Status Validate(const AcquireParams& params) const override;
  // RESOURCE_EXHAUSTED when no candidate block won its Txn; UNAVAILABLE
  // when etcd failed (a Txn whose outcome is unknown is read back first).
  absl::StatusOr<LeaseRecord> Acquire(const AcquireParams& params) override;
  // Waiters queue per replica, FIFO, and are served by Tick and when the
  // watch sees ports freed.
  uint64_t AcquireOrWait(AcquireParams params, absl::Duration deadline,
                         AcquireCallback done) override;
  void CancelWait(uint64_t ticket) override;

  absl::StatusOr<LeaseRecord> Renew(absl::string_view id, absl::Duration ttl,
                                    const Principal& by) override {
    return Renew(id, ttl, by, 0);
  }
  // With a nonzero `fencing_token` that is not the lease's: NOT_FOUND
  // saying the lease was granted again, and nothing changes.
  absl::StatusOr<LeaseRecord> Renew(absl::string_view id, absl::Duration ttl,
                                    const Principal& by,
                                    uint64_t fencing_token) override;
  absl::Status Release(absl::string_view id, const Principal& by) override {
    return Release(id, by, 0);
  }
  absl::Status Release(absl::string_view id, const Principal& by,
                       uint64_t fencing_token) override;
  // Reads etcd.
  absl::StatusOr<LeaseRecord> Get(absl::string_view id,
                                  const Principal& by) override;
  std::vector<LeaseRecord> List(const Metadata& filter, Port from,
                                size_t limit) override;
  using LeaseBackend::List;

  absl::StatusOr<LeaseRecord> AttachHolder(absl::string_view id,
                                           const Principal& by) override;
  void DetachHolder(absl::string_view id) override;
  // The lease if etcd has it (Authorize applies), else NOT_FOUND.
  absl::StatusOr<LeaseRecord> Reattach(const LeaseRecord& snapshot,
                                       const Principal& by) override;

  PortView ViewPort(Port port) override;
  absl::StatusOr<std::vector<AuditEvent>> Events(
      const EventQuery& query) override;
  absl::StatusOr<LeaseRecord> ForceRelease(absl::string_view id_prefix,
                                           Port port,
                                           const Principal& by) override;
  absl::Status DrainPort(Port port, const Principal& by) override;
  absl::Status UndrainPort(Port port, const Principal& by) override;
  absl::StatusOr<PoolChange> SetPool(std::vector<PortRange> pool,
                                     std::vector<Port> exclude,
                                     const Principal& by) override;
  PoolStats Stats() override;

  // Reloads the cache if its watch ended, ends leases whose expiry passed
  // (a Txn guarded by the record's mod_revision, as Release), times out and
  // serves waiters.
  void Tick() override;
  absl::Duration NextTickDue() override;
  // No-op: etcd keeps the state.
  void StartRecovery(absl::Duration, std::string) override {}
  bool Recovering() override { return false; }

 private:
  EtcdLeaseBackend(EtcdLeaseBackendOptions options, const PoolConfig& pool,
                   Clock* clock, etcd::EtcdClient* client);

  // The cache and its watch (etcd_lease_backend.cc).
  absl::Status Reload() ABSL_LOCKS_EXCLUDED(mu_, watch_mu_);
  void OnWatch(absl::StatusOr<etcd::WatchBatch> batch) ABSL_LOCKS_EXCLUDED(mu_);
  void Housekeeping() ABSL_LOCKS_EXCLUDED(mu_);
  // How etcd answered the keepalives: OK if any was kept (or none was
  // due), else the last error.
  absl::Status KeepHoldersAlive() ABSL_LOCKS_EXCLUDED(mu_);
  // Tells on_etcd_state when `status` changes whether etcd answers.
  void ReportEtcdState(const absl::Status& status, bool* answering);

  // Reads (etcd_lease_backend.cc).
  // The record of `id` in etcd; nullopt when there is none.
  absl::StatusOr<std::optional<StoredLease>> ReadLease(absl::string_view id);
  // The live lease `id`, when `by` may `verb` it and `fencing_token` (if
  // nonzero) is its own: NOT_FOUND or PERMISSION_DENIED otherwise.
  absl::StatusOr<StoredLease> FindAuthorized(absl::string_view id,
                                             const Principal& by,
                                             absl::string_view verb,
                                             uint64_t fencing_token = 0);

  // The grant path (etcd_lease_backend_grant.cc).
  absl::Status CheckGrantable(const AcquireParams& params)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The live lease of a request_id already used, INVALID_ARGUMENT if it was
  // another request; nullopt when unused.
  std::optional<absl::StatusOr<LeaseRecord>> AnswerRetry(
      const AcquireParams& params);
  struct Attempt;
  // One candidate block: probe, then the Txn. OK(true) granted into
  // `attempt`, OK(false) lost (try another), or an error.
  absl::StatusOr<bool> TryBlock(const AcquireParams& params, Port base,
                                Attempt* attempt);
  // False (the busy ports backed off) when the probe finds the block used.
  absl::StatusOr<bool> ProbeFree(const AcquireParams& params, Port base,
                                 Attempt* attempt);
  LeaseRecord NewRecord(const AcquireParams& params, Port base);
  void ObserveGrant(const LeaseRecord& record, const std::vector<etcd::Op>& puts,
                    int64_t revision) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Exhausted(uint32_t count, uint32_t busy, uint32_t lost);
  void ServeWaiters() ABSL_LOCKS_EXCLUDED(mu_);

  // The end path and holding (etcd_lease_backend_end.cc).
  // Ends `lease` by one Txn guarded by `guard`: OK(true) ended, OK(false)
  // the guard failed (the lease changed or ended), or UNAVAILABLE.
  absl::StatusOr<bool> EndLease(const StoredLease& lease,
                                const etcd::Compare& guard);
  // The ids of the lease keys starting with `id_prefix`, or the lease id
  // port key `port` names (read from etcd).
  absl::StatusOr<std::vector<std::string>> LeaseIdsOf(
      absl::string_view id_prefix, Port port);
  // Puts `record` and every key of its lease on etcd lease `etcd_lease`,
  // guarded by the record's mod_revision `mod`.
  absl::StatusOr<bool> RewriteLease(const LeaseRecord& record,
                                    int64_t etcd_lease, int64_t mod,
                                    bool move_keys);
  void ExpireDue() ABSL_LOCKS_EXCLUDED(mu_);
  int64_t EtcdSeconds(absl::Duration d) const;

  const EtcdLeaseBackendOptions options_;
  const RequestRules rules_;
  Clock* const clock_;
  etcd::EtcdClient* const client_;
  const KeySpace keys_;

  absl::Mutex mu_;
  LeaseCache cache_ ABSL_GUARDED_BY(mu_);
  Port cursor_ ABSL_GUARDED_BY(mu_) = 0;
  // Ports a probe found busy: when they may be tried again (monotonic).
  absl::flat_hash_map<Port, absl::Duration> busy_until_ ABSL_GUARDED_BY(mu_);
  WaitQueue waiters_ ABSL_GUARDED_BY(mu_);
  bool serve_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool serving_ ABSL_GUARDED_BY(mu_) = false;
  bool reload_needed_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // Held leases with a holder on this replica: id -> holders, hold lease.
  struct LocalHold {
    int holders = 0;
    int64_t etcd_lease = 0;
  };
  absl::flat_hash_map<std::string, LocalHold> holds_ ABSL_GUARDED_BY(mu_);

  // Guards replacing the watch. Never taken under mu_: destroying a watch
  // waits for its callback, which takes mu_.
  absl::Mutex watch_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::unique_ptr<etcd::EtcdWatch> watch_ ABSL_GUARDED_BY(watch_mu_);

  std::thread housekeeper_;  // last: starts once the rest is set
};

}  // namespace portlease::replicated

#endif  // PORTLEASE_SERVER_REPLICATED_ETCD_LEASE_BACKEND_H_
