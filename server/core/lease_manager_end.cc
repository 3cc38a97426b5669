// LeaseManager's end path: Release, expiry and reclaim, draining leases,
// the probe of released ports, cool-downs and Tick. A Release commits with
// the lock released (EndReleaseWithIoUnlocked); an expiry, a reclaim and a
// force-release probe and commit with it held (EndLeaseWithLockHeld). See
// the locking rule in lease_manager.h.
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/core/lease_manager.h"

namespace portlease {

using State = PortView::State;

absl::Status LeaseManager::Release(absl::string_view id,
                                   const Principal& by) {
  Completions done;
  absl::Status result;
  {
    absl::MutexLock lock(&mu_);
    Housekeep(&done);
    absl::StatusOr<Entry*> entry = FindAuthorized(id, by, "release");
    if (!entry.ok()) {
      result = entry.status();  // refused: nothing changes
    } else if (!EndReleaseWithIoUnlocked((*entry)->record.id, by).ok()) {
      result = absl::UnavailableError(
          "cannot commit the release to the store; the lease is still held, retry");
    }
    ServeWaiters(&done);
  }
  done.Run();
  return result;
}

absl::Status LeaseManager::EndReleaseWithIoUnlocked(std::string id,
                                                    const Principal& by) {
  const LeaseEvent::Type why = LeaseEvent::Type::kReleased;
  Entry* entry = leases_.Find(id);
  // Commit without the lock, and without a probe: whether the ports are
  // still bound is checked after the reply (CheckReleasedPorts). Until
  // the commit the lease is out of the expiry and grace indexes and
  // invisible to FindLive (so nothing else ends it), and its ports stay
  // leased: they are freed only once the store says the lease is gone.
  leases_.BeginEnding(entry);
  const AuditEvent ended = Audit(why, &entry->record, &by);
  mu_.Unlock();
  absl::Status committed = store_->DeleteAudited(id, ended);
  mu_.Lock();
  // Failed: it stays, back in the indexes.
  leases_.FinishEnding(leases_.Find(id), committed.ok());
  LeaseRecord freed;
  absl::Status ended_ok = ApplyEnd(id, why, &by, committed, {}, &freed);
  if (ended_ok.ok() && unchecked_releases_.size() < kMaxUncheckedReleases) {
    unchecked_releases_.push_back(std::move(freed));
  }
  return ended_ok;
}

absl::Status LeaseManager::EndLeaseWithLockHeld(std::string id,
                                                LeaseEvent::Type why,
                                                const Principal* by) {
  const LeaseRecord& r = leases_.Find(id)->record;
  absl::StatusOr<std::vector<Port>> held =
      prober_->Held(r.base, r.count, r.udp);
  // A probe fault (out of file descriptors) says nothing about the
  // ports: the lease stays as it is, and the caller retries (the next
  // Tick, for an expiry).
  if (!held.ok()) return held.status();
  absl::Status committed;
  if (held->empty()) {
    committed = store_->DeleteAudited(id, Audit(why, &r, by));
  } else {
    LeaseRecord draining = r;
    draining.state = LeaseState::kDraining;
    committed = store_->PutAudited(draining, Audit(why, &r, by));
  }
  return ApplyEnd(id, why, by, committed, *held);
}

absl::Status LeaseManager::ApplyEnd(const std::string& id,
                                    LeaseEvent::Type why, const Principal* by,
                                    const absl::Status& committed,
                                    const std::vector<Port>& busy,
                                    LeaseRecord* freed) {
  Entry* entry = leases_.Find(id);
  LeaseRecord& r = entry->record;
  if (!committed.ok()) {
    Emit(LeaseEvent::Type::kStoreError, &r, 0, committed.ToString(), by);
    return absl::UnavailableError(absl::StrCat(
        "cannot commit the end of the lease to the store; the lease is still "
        "held, retry: ",
        committed.message()));
  }
  if (r.state == LeaseState::kLive) leases_.CountOwner(r, -1);
  if (!busy.empty()) {
    leases_.MakeDraining(entry,
                         clock_->Monotonic() + options_.drain_probe_interval);
    Emit(why, &r, 0, "", by);
    StartDraining(entry, busy);
    return absl::OkStatus();
  }
  Emit(why, &r, 0, "", by);
  FreeToQuarantine(r.base, r.count);
  LeaseRecord ended = leases_.Erase(id);
  if (freed != nullptr) *freed = std::move(ended);
  return absl::OkStatus();
}

void LeaseManager::CheckReleasedPorts() {
  std::vector<LeaseRecord> released;
  {
    absl::MutexLock lock(&mu_);
    released.swap(unchecked_releases_);
  }
  std::vector<std::pair<LeaseRecord, std::vector<Port>>> bound;
  std::vector<LeaseRecord> unprobed;  // a probe fault: again next Tick
  for (LeaseRecord& r : released) {
    absl::StatusOr<std::vector<Port>> busy =
        prober_->Held(r.base, r.count, r.udp);
    if (!busy.ok()) {
      unprobed.push_back(std::move(r));
    } else if (!busy->empty()) {
      bound.emplace_back(std::move(r), *std::move(busy));
    }
  }
  if (bound.empty() && unprobed.empty()) return;
  absl::MutexLock lock(&mu_);
  for (auto& [record, busy] : bound) DrainReleased(std::move(record), busy);
  for (LeaseRecord& r : unprobed) {
    if (unchecked_releases_.size() >= kMaxUncheckedReleases) break;
    unchecked_releases_.push_back(std::move(r));
  }
}

void LeaseManager::DrainReleased(LeaseRecord record,
                                 const std::vector<Port>& busy) {
  // Granted again since (possible without a cool-down): then the new
  // lease's own probe found the ports free, and they are its now.
  for (uint32_t p = record.base; p <= record.last(); ++p) {
    const State state = ports_.state(static_cast<Port>(p));
    if (state != State::kQuarantined && state != State::kFree) return;
  }
  if (leases_.Contains(record.id)) return;
  // Free already (no cool-down), its claim given up: it must be ours again
  // to drain here; if another server took it since, it is that server's.
  for (uint32_t p = record.base; p <= record.last(); ++p) {
    if (ports_.state(static_cast<Port>(p)) != State::kFree) continue;
    if (!claims_->Claim(record.base, record.count, record.udp).empty()) return;
    break;
  }
  record.state = LeaseState::kDraining;
  absl::Status committed = store_->PutAudited(
      record, Audit(LeaseEvent::Type::kDraining, &record, nullptr,
                    busy.front(),
                    absl::StrCat("still bound: ", absl::StrJoin(busy, ","))));
  if (!committed.ok()) {
    // The ports stay cooling down; a grant probes them anyway.
    Emit(LeaseEvent::Type::kStoreError, &record, 0, committed.ToString());
    return;
  }
  Entry entry;
  entry.record = std::move(record);
  entry.next_probe = clock_->Monotonic() + options_.drain_probe_interval;
  StartDraining(&leases_.Insert(std::move(entry)), busy);
}

void LeaseManager::StartDraining(Entry* entry, const std::vector<Port>& busy) {
  const LeaseRecord& r = entry->record;
  SetState(r.base, r.count, State::kDraining);
  Emit(LeaseEvent::Type::kDraining, &r, busy.front(),
       absl::StrCat("still bound: ", absl::StrJoin(busy, ",")));
}

void LeaseManager::ProbeDraining(const std::string& id) {
  Entry& entry = *leases_.Find(id);
  const LeaseRecord& r = entry.record;
  absl::StatusOr<std::vector<Port>> busy =
      prober_->Held(r.base, r.count, r.udp);
  // On a probe fault the lease stays draining, probed again next time.
  absl::Status deleted =
      busy.ok() && busy->empty()
          ? store_->DeleteAudited(
                id, Audit(LeaseEvent::Type::kDrained, &r, nullptr))
          : absl::OkStatus();
  if (!busy.ok() || !busy->empty() || !deleted.ok()) {
    if (!deleted.ok()) Emit(LeaseEvent::Type::kStoreError, &r, 0, deleted.ToString());
    leases_.SetNextProbe(&entry,
                         clock_->Monotonic() + options_.drain_probe_interval);
    return;
  }
  Emit(LeaseEvent::Type::kDrained, &r, 0, "");
  FreeToQuarantine(r.base, r.count);
  leases_.Erase(id);
}

void LeaseManager::FreeToQuarantine(Port first, uint32_t count) {
  if (options_.cooldown <= absl::ZeroDuration()) {
    SetState(first, count, State::kFree);
    claims_->Unclaim(first, count);
    return;
  }
  ports_.Quarantine(first, count, clock_->Monotonic() + options_.cooldown);
}

void LeaseManager::Housekeep(Completions* done) {
  CheckRecoveryOver();
  const absl::Duration now = clock_->Monotonic();
  // A lease that cannot end now (store refused, probe fault) stays due:
  // the next Housekeep tries again.
  while (std::optional<std::string> id = leases_.FirstExpired(now)) {
    if (!EndLeaseWithLockHeld(*id, LeaseEvent::Type::kExpired, /*by=*/nullptr)
             .ok()) {
      break;
    }
  }
  while (std::optional<std::string> id = leases_.FirstGraceOver(now)) {
    if (!EndLeaseWithLockHeld(*id, LeaseEvent::Type::kHolderLost,
                              /*by=*/nullptr)
             .ok()) {
      break;
    }
  }
  // Each draining lease is probed at most once per pass.
  for (const std::string& id : leases_.DrainsDue(now)) ProbeDraining(id);
  std::vector<Port> cooled;
  if (ports_.EndTimers(now, &cooled)) serve_pending_ = true;
  // Cooled down: back in the free pool, so no longer this server's.
  for (Port p : cooled) claims_->Unclaim(p, 1);
  ServeWaiters(done);
}

void LeaseManager::Tick() {
  CheckReleasedPorts();
  Completions done;
  {
    absl::MutexLock lock(&mu_);
    Housekeep(&done);
    const absl::Duration now = clock_->Monotonic();
    for (AcquireCallback& expired : waiters_.TakeExpired(now)) {
      done.Add(std::move(expired),
               absl::DeadlineExceededError("gave up waiting for ports"));
      serve_pending_ = true;
    }
    ServeWaiters(&done);
  }
  done.Run();
}

}  // namespace portlease
