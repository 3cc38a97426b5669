// LeaseManager's grant path: Acquire, AcquireOrWait and the waiters' queue.
// A caller's own request probes and commits with the lock released
// (GrantWithIoUnlocked); a waiter is granted with the lock held
// (GrantWithLockHeld), so that the queue is served in order. See the
// locking rule in lease_manager.h.
#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "server/core/lease_manager.h"

namespace portlease {

using State = PortView::State;

absl::StatusOr<LeaseRecord> LeaseManager::Acquire(const AcquireParams& params) {
  Completions done;
  absl::StatusOr<LeaseRecord> result;
  {
    absl::MutexLock lock(&mu_);
    Housekeep(&done);
    result = GrantWithIoUnlocked(params);
    ServeWaiters(&done);  // a probe may have given reserved ports back
  }
  done.Run();
  return result;
}

std::optional<absl::StatusOr<LeaseRecord>> LeaseManager::AnswerRetry(
    const AcquireParams& params) {
  if (params.request_id.empty()) return std::nullopt;
  const RequestKey request_key(params.caller.id, params.request_id);
  if (pending_request_ids_.contains(request_key)) {
    return absl::UnavailableError(
        "a request with this request_id is being granted right now; retry");
  }
  const Entry* known = leases_.FindByRequest(params.caller.id, params.request_id);
  if (known == nullptr) return std::nullopt;
  const LeaseRecord& existing = known->record;
  if (!SameRequest(existing, params)) {
    return RequestIdReused(params.request_id);
  }
  return existing;
}

absl::Status LeaseManager::CheckGrantable(const AcquireParams& params) {
  if (recovery_until_ > absl::ZeroDuration()) return RecoveringError();
  absl::Status ok = CheckOwnerLimit(params);
  if (ok.ok()) ok = CheckFitsPool(params);
  return ok;
}

LeaseManager::BlockProbe LeaseManager::ClaimAndProbe(Port base,
                                                     uint32_t count,
                                                     bool udp) {
  // Claim first, then probe: once claimed, no other server on the host
  // grants these ports, so what the probe finds free stays ours.
  BlockProbe probe;
  probe.claimed = claims_->Claim(base, count, udp);
  if (probe.claimed.empty()) probe.busy = prober_->Busy(base, count, udp);
  return probe;
}

absl::StatusOr<bool> LeaseManager::TakeUsable(Port base, uint32_t count,
                                              const BlockProbe& probe,
                                              uint32_t* skipped) {
  if (!probe.claimed.empty()) {
    MarkClaimedElsewhere(probe.claimed);
    *skipped += static_cast<uint32_t>(probe.claimed.size());
    return false;
  }
  if (!probe.busy.ok()) {
    // The server's own shortage (out of file descriptors): the probe
    // said nothing about the ports. Give the block back, mark nothing.
    claims_->Unclaim(base, count);
    return probe.busy.status();
  }
  if (!probe.busy->empty()) {
    claims_->Unclaim(base, count);
    for (Port p : *probe.busy) {
      if (p < base || p >= uint32_t{base} + count) continue;
      MarkBusy(p);
      ++*skipped;
    }
    return false;
  }
  return true;
}

LeaseRecord LeaseManager::NewGrantRecord(const AcquireParams& params,
                                         Port base, uint32_t count) {
  LeaseRecord record;
  do {
    record.id = options_.new_id();
  } while (leases_.Contains(record.id) || pending_ids_.contains(record.id));
  record.names = params.names;
  record.base = base;
  record.count = count;
  record.udp = params.udp;
  record.owner = params.owner;
  record.request_id = params.request_id;
  record.caller = params.caller.id;
  record.held = params.hold;
  record.ttl = rules_.GrantTtl(params.ttl);
  record.created_at = clock_->Now();
  record.expires_at = record.created_at + record.ttl;
  record.state = LeaseState::kLive;
  return record;
}

absl::StatusOr<LeaseRecord> LeaseManager::InstallGrant(
    LeaseRecord record, const absl::Status& committed, const Principal& by) {
  if (!committed.ok()) {
    claims_->Unclaim(record.base, record.count);
    Emit(LeaseEvent::Type::kStoreError, &record, 0, committed.ToString());
    return absl::UnavailableError(absl::StrCat(
        "cannot commit the lease to the store, nothing was granted: ",
        committed.message()));
  }
  Entry entry;
  entry.record = std::move(record);
  entry.deadline = clock_->Monotonic() + entry.record.ttl;
  if (entry.record.held) {  // its holder attaches shortly
    entry.grace_deadline =
        clock_->Monotonic() +
        std::max(options_.hold_attach_window, options_.hold_grace);
  }
  const LeaseRecord& granted = leases_.Insert(std::move(entry)).record;
  Emit(LeaseEvent::Type::kGranted, &granted, 0, "", &by);
  return granted;
}

absl::Status LeaseManager::Exhausted(uint32_t count, uint32_t skipped) const {
  return absl::ResourceExhaustedError(absl::StrCat(
      "the pool cannot serve ", count, " contiguous port",
      count == 1 ? "" : "s", ": ", ports_.available(), " of ",
      ports_.pool_size(), " free (largest free block ",
      ports_.largest_block(), "), ",
      ports_.count(State::kQuarantined), " cooling down, ",
      ports_.count(State::kDraining),
      " draining (still bound after their lease ended), ",
      ports_.count(State::kBusy), " bound by other processes",
      skipped ? absl::StrCat(" (", skipped, " found just now)") : "",
      " or claimed by other servers",
      "; release leases, ask for fewer ports, or wait"));
}

absl::StatusOr<LeaseRecord> LeaseManager::GrantWithIoUnlocked(
    const AcquireParams& params) {
  absl::Status valid = Validate(params);
  if (!valid.ok()) return valid;
  const RequestKey request_key(params.caller.id, params.request_id);
  if (!params.request_id.empty() &&
      pending_request_ids_.contains(request_key)) {
    // The same request, being committed by another call: wait for its
    // answer (AnswerRetry gives it, or says to retry).
    auto settled = [this, &request_key]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !pending_request_ids_.contains(request_key);
    };
    mu_.AwaitWithTimeout(absl::Condition(&settled), absl::Seconds(10));
  }
  if (auto answer = AnswerRetry(params)) return *std::move(answer);
  if (absl::Status ok = CheckGrantable(params); !ok.ok()) return ok;
  // While this call runs without the lock, a retry with the same
  // request_id waits for its answer (above).
  const bool claims_request_id = !params.request_id.empty();
  if (claims_request_id) pending_request_ids_.insert(request_key);
  absl::Cleanup release_request_id = [this, claims_request_id, &request_key]()
      ABSL_NO_THREAD_SAFETY_ANALYSIS {  // mu_ is held at every return
        if (claims_request_id) pending_request_ids_.erase(request_key);
      };
  const uint32_t count = RequestedPorts(params);
  uint32_t skipped = 0;
  for (uint32_t attempt = 0; attempt < options_.max_probes_per_request;
       ++attempt) {
    std::optional<Port> base = ports_.Find(count);
    if (!base) break;
    // Reserve the block (taken, as if leased), claim and probe without
    // the lock.
    SetState(*base, count, State::kLeased);
    mu_.Unlock();
    const BlockProbe probe = ClaimAndProbe(*base, count, params.udp);
    mu_.Lock();
    if (!probe.usable()) SetState(*base, count, State::kFree);
    absl::StatusOr<bool> usable = TakeUsable(*base, count, probe, &skipped);
    if (!usable.ok()) return usable.status();
    if (!*usable) continue;
    return CommitGrantWithIoUnlocked(NewGrantRecord(params, *base, count),
                                     params);
  }
  return Exhausted(count, skipped);
}

absl::StatusOr<LeaseRecord> LeaseManager::CommitGrantWithIoUnlocked(
    LeaseRecord record, const AcquireParams& params) {
  // Other grants ran during the probe: the owner may be at its limit.
  absl::Status still_ok = CheckOwnerLimit(params);
  if (!still_ok.ok()) {
    SetState(record.base, record.count, State::kFree);
    claims_->Unclaim(record.base, record.count);
    return still_ok;
  }
  // Commit without the lock (concurrent grants and releases share a
  // transaction in a store that batches). Until the commit, the ports
  // stay reserved and the owner counts the lease.
  ports_.AdvanceCursor(record.last());
  pending_ids_.insert(record.id);
  leases_.CountOwner(record, +1);
  const AuditEvent granted =
      Audit(LeaseEvent::Type::kGranted, &record, &params.caller);
  mu_.Unlock();
  absl::Status committed = store_->PutAudited(record, granted);
  mu_.Lock();
  pending_ids_.erase(record.id);
  if (!committed.ok()) {
    leases_.CountOwner(record, -1);
    SetState(record.base, record.count, State::kFree);  // never committed
  }
  return InstallGrant(std::move(record), committed, params.caller);
}

absl::StatusOr<LeaseRecord> LeaseManager::GrantWithLockHeld(
    const AcquireParams& params) {
  absl::Status valid = Validate(params);
  if (!valid.ok()) return valid;
  if (auto answer = AnswerRetry(params)) return *std::move(answer);
  if (absl::Status ok = CheckGrantable(params); !ok.ok()) return ok;
  const uint32_t count = RequestedPorts(params);
  uint32_t skipped = 0;
  for (uint32_t attempt = 0; attempt < options_.max_probes_per_request;
       ++attempt) {
    std::optional<Port> base = ports_.Find(count);
    if (!base) break;
    // Under the lock (FIFO: see lease_manager.h).
    const BlockProbe probe = ClaimAndProbe(*base, count, params.udp);
    absl::StatusOr<bool> usable = TakeUsable(*base, count, probe, &skipped);
    if (!usable.ok()) return usable.status();
    if (!*usable) continue;
    LeaseRecord record = NewGrantRecord(params, *base, count);
    absl::Status committed = store_->PutAudited(
        record, Audit(LeaseEvent::Type::kGranted, &record, &params.caller));
    if (committed.ok()) {
      SetState(record.base, count, State::kLeased);
      ports_.AdvanceCursor(record.last());
      leases_.CountOwner(record, +1);
    }
    return InstallGrant(std::move(record), committed, params.caller);
  }
  return Exhausted(count, skipped);
}

uint64_t LeaseManager::AcquireOrWait(AcquireParams params,
                                     absl::Duration deadline,
                                     AcquireCallback done) {
  Completions completions;
  uint64_t ticket = 0;
  {
    absl::MutexLock lock(&mu_);
    Housekeep(&completions);
    absl::StatusOr<LeaseRecord> result =
        absl::ResourceExhaustedError("queued behind earlier waiters");
    // A bad request or an owner at its limit is answered at once: waiting
    // would not help.
    absl::Status valid = Validate(params);
    if (valid.ok()) valid = CheckOwnerLimit(params);
    if (valid.ok()) valid = CheckFitsPool(params);
    if (!valid.ok()) {
      result = valid;
    } else if (waiters_.empty()) {
      // Unlocked probe and commit; the final "nothing free" is decided
      // under the lock, right before queueing.
      result = GrantWithIoUnlocked(params);
    }
    if (!valid.ok() || !absl::IsResourceExhausted(result.status())) {
      completions.Add(std::move(done), std::move(result));
    } else if (deadline <= clock_->Monotonic()) {
      completions.Add(
          std::move(done), absl::DeadlineExceededError(absl::StrCat(
                               "gave up waiting for ports: ", result.status().message())));
    } else if (waiters_.size() >= options_.max_waiters) {
      completions.Add(
          std::move(done),
          absl::ResourceExhaustedError(absl::StrCat(
              "too many waiting requests (", waiters_.size(),
              "); the pool is exhausted: ", result.status().message())));
    } else {
      ticket = waiters_.Push(std::move(params), deadline, std::move(done));
    }
  }
  completions.Run();
  return ticket;
}

void LeaseManager::CancelWait(uint64_t ticket) {
  Completions done;
  {
    absl::MutexLock lock(&mu_);
    if (std::optional<AcquireCallback> waiter = waiters_.Remove(ticket)) {
      done.Add(std::move(*waiter),
               absl::CancelledError("the request was cancelled while waiting"));
      serve_pending_ = true;  // the head may have changed
    }
    ServeWaiters(&done);
  }
  done.Run();
}

void LeaseManager::ServeWaiters(Completions* done) {
  if (!serve_pending_ || recovery_until_ > absl::ZeroDuration()) return;
  serve_pending_ = false;
  const absl::Duration now = clock_->Monotonic();
  while (!waiters_.empty()) {
    WaitQueue::Waiter& head = waiters_.front();
    absl::Status owner_ok = CheckOwnerLimit(head.params);
    absl::StatusOr<LeaseRecord> result =
        head.deadline <= now
            ? absl::DeadlineExceededError("gave up waiting for ports")
        : !owner_ok.ok() ? absl::StatusOr<LeaseRecord>(owner_ok)
                         : GrantWithLockHeld(head.params);
    if (owner_ok.ok() && absl::IsResourceExhausted(result.status())) break;
    done->Add(waiters_.PopFront(), std::move(result));
  }
}

}  // namespace portlease
