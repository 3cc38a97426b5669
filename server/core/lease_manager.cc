#include "server/core/lease_manager.h"

#include <algorithm>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace portlease {
namespace {

using State = PortView::State;

std::string Ports(const LeaseRecord& lease) {
  return lease.count == 1 ? absl::StrCat(lease.base)
                          : absl::StrCat(lease.base, "-", lease.last());
}

}  // namespace

absl::StatusOr<std::unique_ptr<LeaseManager>> LeaseManager::Create(
    LeaseManagerOptions options, Clock* clock, LeaseStore* store,
    PortProber* prober) {
  absl::Status valid = ValidateOptions(options);
  if (!valid.ok()) return valid;
  if (!options.new_id) options.new_id = RandomLeaseId;
  std::unique_ptr<LeaseManager> manager(
      new LeaseManager(std::move(options), clock, store, prober));
  absl::Status loaded = manager->Load();
  if (!loaded.ok()) return loaded;
  return manager;
}

LeaseManager::LeaseManager(LeaseManagerOptions options, Clock* clock,
                           LeaseStore* store, PortProber* prober)
    : options_(std::move(options)),
      rules_(options_),
      clock_(clock),
      store_(store),
      prober_(prober),
      claims_(options_.claims != nullptr ? options_.claims : &no_claims_),
      allocator_(options_.pool, WithM2DefaultPorts(options_.exclude)),
      state_(65536, State::kOutsidePool),
      resting_(65536, State::kOutsidePool),
      drained_(65536, false) {
  for (const PortRange& r : options_.pool) {
    for (uint32_t p = r.lo; p <= r.hi; ++p) resting_[p] = State::kExcluded;
  }
  for (uint32_t p = 0; p < 65536; ++p) {
    if (allocator_.InPool(static_cast<Port>(p))) resting_[p] = State::kFree;
    state_[p] = resting_[p];
    count_[static_cast<int>(state_[p])]++;
  }
}

LeaseManager::~LeaseManager() {
  std::vector<Completion> done;
  {
    absl::MutexLock lock(&mu_);
    for (Waiter& w : waiters_) {
      done.emplace_back(std::move(w.done),
                        absl::UnavailableError("the lease server is shutting down"));
    }
    waiters_.clear();
  }
  Complete(&done);
}

absl::Status LeaseManager::Load() {
  absl::StatusOr<std::vector<LeaseRecord>> stored = store_->LoadAll();
  if (!stored.ok()) return stored.status();
  absl::StatusOr<std::vector<Port>> drained = store_->LoadDrainedPorts();
  if (!drained.ok()) return drained.status();
  absl::MutexLock lock(&mu_);
  // Drained ports outside the pool are remembered, and rest disabled should
  // a later SetPool bring them back.
  for (Port port : *drained) {
    drained_[port] = true;
    if (resting_[port] != State::kFree) continue;
    resting_[port] = State::kDisabled;
    SetState(port, 1, State::kFree);
  }
  const absl::Time now = clock_->Now();
  const absl::Duration mono = clock_->Monotonic();
  for (LeaseRecord& record : *stored) {
    if (PortsMalformed(record) || leases_.contains(record.id)) {
      return absl::DataLossError(absl::StrCat(
          "stored lease ", record.IdPrefix(), " is malformed (ports ",
          Ports(record), ")"));
    }
    for (uint32_t p = record.base; p <= record.last(); ++p) {
      if (state_[p] == State::kLeased || state_[p] == State::kDraining) {
        return absl::DataLossError(absl::StrCat(
            "stored leases overlap on port ", p, " (lease ", record.IdPrefix(),
            "); the database is inconsistent"));
      }
    }
    // Ours again, unless another server claimed the ports while this one
    // was down: then they are that server's, and the lease must end.
    std::vector<Port> claimed = claims_->Claim(record.base, record.count,
                                               record.udp);
    if (!claimed.empty()) {
      absl::Status dropped = DropClaimLost(std::move(record), claimed);
      if (!dropped.ok()) return dropped;
      continue;
    }
    // Stored before callers were recorded: the caller the server wrote
    // down itself (clients never set peer_* keys), kept by the next Put.
    if (record.caller.empty()) record.caller = LegacyPrincipal(record.owner);
    Entry entry;
    if (record.state == LeaseState::kLive && record.expires_at > now) {
      // The expiry the holder was told is a promise, whatever --max-ttl is
      // now (new limits apply from the next renewal). It is capped only by
      // the lease's own ttl: a wall clock stepped back while the server was
      // down, or a bogus row, cannot make it live longer than granted.
      absl::Duration remaining = record.expires_at - now;
      if (record.ttl > absl::ZeroDuration() && remaining > record.ttl) {
        remaining = record.ttl;
        record.expires_at = now + remaining;
      }
      entry.deadline = mono + remaining;
      SetState(record.base, record.count, State::kLeased);
      ++live_;
      CountOwner(record, +1);
    } else {
      // Expired while the server was down, or draining: free its ports only
      // once a probe says nobody uses them.
      record.state = LeaseState::kDraining;
      entry.next_probe = mono;
      SetState(record.base, record.count, State::kDraining);
    }
    entry.record = std::move(record);
    const std::string id = entry.record.id;
    Entry& stored_entry = leases_[id] = std::move(entry);
    Index(&stored_entry);
    // Its Hold stream broke with the restart: one grace to attach again.
    if (stored_entry.record.state == LeaseState::kLive &&
        stored_entry.record.held) {
      stored_entry.grace_deadline = mono + options_.hold_grace;
      grace_.emplace(stored_entry.grace_deadline, id);
    }
  }
  return absl::OkStatus();
}

absl::Status LeaseManager::DropClaimLost(LeaseRecord record,
                                         const std::vector<Port>& claimed) {
  std::optional<ClaimHolder> holder = claims_->Holder(claimed.front());
  const std::string by =
      holder.has_value()
          ? absl::StrCat("portleased pid ", holder->pid,
                         holder->user.empty() ? "" : " (user ",
                         holder->user, holder->user.empty() ? "" : ")")
          : "another portleased";
  const std::string why = absl::StrCat(
      "port ", claimed.front(), " was claimed by ", by,
      " while this server was down; the lease ended when this server "
      "restarted");
  absl::Status deleted = store_->DeleteAudited(
      record.id, Audit(LeaseEvent::Type::kClaimLost, &record, nullptr,
                       claimed.front(), why));
  if (!deleted.ok()) {
    return absl::Status(deleted.code(),
                        absl::StrCat("cannot delete lease ", record.IdPrefix(),
                                     " (", why, "): ", deleted.message()));
  }
  if (record.state == LeaseState::kLive) lost_[record.id] = why;
  Emit(LeaseEvent::Type::kClaimLost, &record, claimed.front(), why);
  for (uint32_t p = record.base; p <= record.last(); ++p) {
    MarkBusy(static_cast<Port>(p), "claimed by another portleased");
  }
  return absl::OkStatus();
}

absl::Status LeaseManager::NotFound(absl::string_view id) {
  auto it = lost_.find(id);
  if (it == lost_.end()) return LeaseNotFound(id);
  return LeaseEndedNotFound(id, it->second);
}

absl::StatusOr<LeaseManager::Entry*> LeaseManager::FindAuthorized(
    absl::string_view id, const Principal& by, absl::string_view verb,
    bool include_ending) {
  Entry* entry = FindLive(id, include_ending);
  if (entry == nullptr) return NotFound(id);
  absl::Status allowed = Authorize(entry->record, by, verb);
  if (!allowed.ok()) return allowed;
  return entry;
}

LeaseManager::Entry* LeaseManager::FindByPort(Port port) {
  auto it = by_base_.upper_bound(port);
  if (it == by_base_.begin()) return nullptr;
  --it;
  Entry& entry = leases_.at(it->second);
  return port <= entry.record.last() ? &entry : nullptr;
}

void LeaseManager::Index(Entry* entry) {
  const LeaseRecord& r = entry->record;
  by_base_[r.base] = r.id;
  if (r.state == LeaseState::kLive) {
    expiry_.emplace(entry->deadline, r.id);
    if (!r.request_id.empty()) by_request_id_[{r.caller, r.request_id}] = r.id;
  } else {
    drain_queue_.emplace(entry->next_probe, r.id);
  }
}

void LeaseManager::Unindex(const Entry& entry) {
  const LeaseRecord& r = entry.record;
  by_base_.erase(r.base);
  expiry_.erase({entry.deadline, r.id});
  grace_.erase({entry.grace_deadline, r.id});
  drain_queue_.erase({entry.next_probe, r.id});
  auto it = by_request_id_.find(RequestKey(r.caller, r.request_id));
  if (it != by_request_id_.end() && it->second == r.id) by_request_id_.erase(it);
}

void LeaseManager::SetState(Port first, uint32_t count, State state) {
  bool all_free = true;
  for (uint32_t p = first; p < uint32_t{first} + count; ++p) {
    State target = state == State::kFree ? resting_[p] : state;
    count_[static_cast<int>(state_[p])]--;
    count_[static_cast<int>(target)]++;
    state_[p] = target;
    all_free = all_free && target == State::kFree;
  }
  if (all_free || state != State::kFree) {
    allocator_.Set(first, count, state == State::kFree);
  } else {  // some ports rest disabled
    for (uint32_t p = first; p < uint32_t{first} + count; ++p) {
      allocator_.Set(static_cast<Port>(p), 1, state_[p] == State::kFree);
    }
  }
  if (state == State::kFree) serve_pending_ = true;
}

void LeaseManager::Emit(LeaseEvent::Type type, const LeaseRecord* lease,
                        Port port, std::string detail, const Principal* by) {
  if (!options_.on_event) return;
  options_.on_event(MakeEvent(type, lease, port, std::move(detail), by));
}

void LeaseManager::Complete(std::vector<Completion>* done) {
  for (Completion& c : *done) std::move(c.first)(std::move(c.second));
  done->clear();
}

absl::Status LeaseManager::Validate(const AcquireParams& params) const {
  return rules_.Validate(params);
}

absl::StatusOr<LeaseRecord> LeaseManager::Acquire(const AcquireParams& params) {
  std::vector<Completion> done;
  absl::StatusOr<LeaseRecord> result;
  {
    absl::MutexLock lock(&mu_);
    Housekeep(&done);
    result = AcquireLocked(params, /*unlock_for_io=*/true);
    ServeWaiters(&done);  // a probe may have given reserved ports back
  }
  Complete(&done);
  return result;
}

absl::StatusOr<LeaseRecord> LeaseManager::AcquireLocked(
    const AcquireParams& params, bool unlock_for_io) {
  absl::Status valid = Validate(params);
  if (!valid.ok()) return valid;
  const RequestKey request_key(params.caller.id, params.request_id);
  if (!params.request_id.empty()) {
    if (pending_request_ids_.contains(request_key)) {
      // The same request, being committed by another call: its answer.
      auto settled = [this, &request_key]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !pending_request_ids_.contains(request_key);
      };
      if (!unlock_for_io ||
          !mu_.AwaitWithTimeout(absl::Condition(&settled), absl::Seconds(10))) {
        return absl::UnavailableError(
            "a request with this request_id is being granted right now; "
            "retry");
      }
    }
    auto it = by_request_id_.find(request_key);
    if (it != by_request_id_.end()) {
      const LeaseRecord& existing = leases_.at(it->second).record;
      if (!SameRequest(existing, params)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "request_id '", absl::CHexEscape(params.request_id),
            "' was already used for a different request"));
      }
      return existing;
    }
  }
  if (recovery_until_ > absl::ZeroDuration()) return RecoveringError();
  absl::Status owner_ok = CheckOwnerLimit(params);
  if (owner_ok.ok()) owner_ok = CheckFitsPool(params);
  if (!owner_ok.ok()) return owner_ok;
  // While this call runs without the lock, a retry with the same
  // request_id waits for its answer (above).
  const bool claims_request_id = unlock_for_io && !params.request_id.empty();
  if (claims_request_id) pending_request_ids_.insert(request_key);
  absl::Cleanup release_request_id = [this, claims_request_id, &request_key]()
      ABSL_NO_THREAD_SAFETY_ANALYSIS {  // mu_ is held at every return
        if (claims_request_id) pending_request_ids_.erase(request_key);
      };
  const uint32_t count = RequestedPorts(params);
  uint32_t skipped = 0;
  for (uint32_t attempt = 0; attempt < options_.max_probes_per_request;
       ++attempt) {
    std::optional<Port> base = allocator_.Find(count);
    if (!base) break;
    // Claim first, then probe: once claimed, no other server on the host
    // grants these ports, so what the probe finds free stays ours.
    std::vector<Port> claimed;
    absl::StatusOr<std::vector<Port>> busy = std::vector<Port>();
    if (unlock_for_io) {
      // Reserve the block (taken, as if leased), claim and probe without
      // the lock.
      SetState(*base, count, State::kLeased);
      mu_.Unlock();
      claimed = claims_->Claim(*base, count, params.udp);
      if (claimed.empty()) busy = prober_->Busy(*base, count, params.udp);
      mu_.Lock();
      if (!claimed.empty() || !busy.ok() || !busy->empty()) {
        SetState(*base, count, State::kFree);
      }
    } else {
      claimed = claims_->Claim(*base, count, params.udp);
      if (claimed.empty()) busy = prober_->Busy(*base, count, params.udp);
    }
    if (!claimed.empty()) {
      MarkClaimedElsewhere(claimed);
      skipped += static_cast<uint32_t>(claimed.size());
      continue;
    }
    if (!busy.ok()) {
      // The server's own shortage (out of file descriptors): the probe
      // said nothing about the ports. Give the block back, mark nothing.
      claims_->Unclaim(*base, count);
      return busy.status();
    }
    if (!busy->empty()) {
      claims_->Unclaim(*base, count);
      for (Port p : *busy) {
        if (p < *base || p >= uint32_t{*base} + count) continue;
        MarkBusy(p);
        ++skipped;
      }
      continue;
    }
    LeaseRecord record;
    do {
      record.id = options_.new_id();
    } while (leases_.contains(record.id) || pending_ids_.contains(record.id));
    record.names = params.names;
    record.base = *base;
    record.count = count;
    record.udp = params.udp;
    record.owner = params.owner;
    record.request_id = params.request_id;
    record.caller = params.caller.id;
    record.ttl = rules_.GrantTtl(params.ttl);
    record.created_at = clock_->Now();
    record.expires_at = record.created_at + record.ttl;
    record.state = LeaseState::kLive;
    absl::Status committed;
    if (unlock_for_io) {
      // Other grants ran during the probe: the owner may be at its limit.
      absl::Status still_ok = CheckOwnerLimit(params);
      if (!still_ok.ok()) {
        SetState(record.base, count, State::kFree);
        claims_->Unclaim(record.base, count);
        return still_ok;
      }
      // Commit without the lock (concurrent grants and releases share a
      // transaction in a store that batches). Until the commit, the ports
      // stay reserved and the owner counts the lease.
      allocator_.AdvanceCursor(record.last());
      pending_ids_.insert(record.id);
      CountOwner(record, +1);
      const AuditEvent granted =
          Audit(LeaseEvent::Type::kGranted, &record, &params.caller);
      mu_.Unlock();
      committed = store_->PutAudited(record, granted);
      mu_.Lock();
      pending_ids_.erase(record.id);
      if (!committed.ok()) {
        CountOwner(record, -1);
        SetState(record.base, count, State::kFree);  // never committed
      }
    } else {
      committed = store_->PutAudited(
          record, Audit(LeaseEvent::Type::kGranted, &record, &params.caller));
      if (committed.ok()) {
        SetState(record.base, count, State::kLeased);
        allocator_.AdvanceCursor(record.last());
        CountOwner(record, +1);
      }
    }
    if (!committed.ok()) claims_->Unclaim(record.base, count);
    if (!committed.ok()) {
      Emit(LeaseEvent::Type::kStoreError, &record, 0, committed.ToString());
      return absl::UnavailableError(absl::StrCat(
          "cannot commit the lease to the store, nothing was granted: ",
          committed.message()));
    }
    Entry& entry = leases_[record.id];
    entry.record = std::move(record);
    entry.deadline = clock_->Monotonic() + entry.record.ttl;
    Index(&entry);
    ++live_;
    Emit(LeaseEvent::Type::kGranted, &entry.record, 0, "", &params.caller);
    return entry.record;
  }
  return absl::ResourceExhaustedError(absl::StrCat(
      "the pool cannot serve ", count, " contiguous port",
      count == 1 ? "" : "s", ": ", allocator_.available(), " of ",
      allocator_.pool_size(), " free (largest free block ",
      allocator_.largest_block(), "), ",
      count_[static_cast<int>(State::kQuarantined)], " cooling down, ",
      count_[static_cast<int>(State::kDraining)],
      " draining (still bound after their lease ended), ",
      count_[static_cast<int>(State::kBusy)], " bound by other processes",
      skipped ? absl::StrCat(" (", skipped, " found just now)") : "",
      " or claimed by other servers",
      "; release leases, ask for fewer ports, or wait"));
}

uint64_t LeaseManager::AcquireOrWait(AcquireParams params,
                                     absl::Duration deadline,
                                     AcquireCallback done) {
  std::vector<Completion> completions;
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
      result = AcquireLocked(params, /*unlock_for_io=*/true);
    }
    if (!valid.ok() || !absl::IsResourceExhausted(result.status())) {
      completions.emplace_back(std::move(done), std::move(result));
    } else if (deadline <= clock_->Monotonic()) {
      completions.emplace_back(
          std::move(done), absl::DeadlineExceededError(absl::StrCat(
                               "gave up waiting for ports: ", result.status().message())));
    } else if (waiters_.size() >= options_.max_waiters) {
      completions.emplace_back(
          std::move(done),
          absl::ResourceExhaustedError(absl::StrCat(
              "too many waiting requests (", waiters_.size(),
              "); the pool is exhausted: ", result.status().message())));
    } else {
      ticket = next_ticket_++;
      waiters_.push_back(Waiter{ticket, std::move(params), deadline, std::move(done)});
    }
  }
  Complete(&completions);
  return ticket;
}

void LeaseManager::CancelWait(uint64_t ticket) {
  std::vector<Completion> done;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
      if (it->ticket != ticket) continue;
      done.emplace_back(std::move(it->done),
                        absl::CancelledError("the request was cancelled while waiting"));
      waiters_.erase(it);
      serve_pending_ = true;  // the head may have changed
      break;
    }
    ServeWaiters(&done);
  }
  Complete(&done);
}

void LeaseManager::ServeWaiters(std::vector<Completion>* done) {
  if (!serve_pending_ || recovery_until_ > absl::ZeroDuration()) return;
  serve_pending_ = false;
  const absl::Duration now = clock_->Monotonic();
  while (!waiters_.empty()) {
    Waiter& head = waiters_.front();
    absl::Status owner_ok = CheckOwnerLimit(head.params);
    absl::StatusOr<LeaseRecord> result =
        head.deadline <= now
            ? absl::DeadlineExceededError("gave up waiting for ports")
        : !owner_ok.ok() ? absl::StatusOr<LeaseRecord>(owner_ok)
                         : AcquireLocked(head.params);
    if (owner_ok.ok() && absl::IsResourceExhausted(result.status())) break;
    done->emplace_back(std::move(head.done), std::move(result));
    waiters_.pop_front();
  }
}

LeaseManager::Entry* LeaseManager::FindLive(absl::string_view id,
                                            bool include_ending) {
  auto it = leases_.find(id);
  if (it == leases_.end() || it->second.record.state != LeaseState::kLive ||
      (it->second.ending && !include_ending)) {
    return nullptr;
  }
  return &it->second;
}


absl::StatusOr<LeaseRecord> LeaseManager::Renew(absl::string_view id,
                                                absl::Duration ttl,
                                                const Principal& by) {
  std::vector<Completion> done;
  absl::StatusOr<LeaseRecord> result;
  {
    absl::MutexLock lock(&mu_);
    Housekeep(&done);
    absl::StatusOr<Entry*> found = FindAuthorized(id, by, "renew");
    absl::Status allowed =
        found.ok() ? rules_.CheckTtl(ttl) : found.status();
    if (!allowed.ok()) {
      result = allowed;
    } else {
      Entry* entry = *found;
      LeaseRecord renewed = entry->record;
      // Without a ttl the lease's own is used, within today's limits (the
      // server may have restarted with others since the grant).
      renewed.ttl =
          ttl != absl::ZeroDuration() ? ttl : rules_.ClampTtl(renewed.ttl);
      renewed.expires_at = clock_->Now() + renewed.ttl;
      absl::Status committed = store_->PutAudited(
          renewed, Audit(LeaseEvent::Type::kRenewed, &renewed, &by));
      if (!committed.ok()) {
        Emit(LeaseEvent::Type::kStoreError, &renewed, 0, committed.ToString(),
             &by);
        result = absl::UnavailableError(absl::StrCat(
            "cannot commit the renewal to the store: ", committed.message()));
      } else {
        expiry_.erase({entry->deadline, entry->record.id});
        entry->deadline = clock_->Monotonic() + renewed.ttl;
        entry->record = std::move(renewed);
        expiry_.emplace(entry->deadline, entry->record.id);
        Emit(LeaseEvent::Type::kRenewed, &entry->record, 0, "", &by);
        result = entry->record;
      }
    }
  }
  Complete(&done);
  return result;
}

absl::Status LeaseManager::Release(absl::string_view id,
                                   const Principal& by) {
  std::vector<Completion> done;
  absl::Status result;
  {
    absl::MutexLock lock(&mu_);
    Housekeep(&done);
    absl::StatusOr<Entry*> entry = FindAuthorized(id, by, "release");
    if (!entry.ok()) {
      result = entry.status();  // refused: nothing changes
    } else if (!EndLease((*entry)->record.id, LeaseEvent::Type::kReleased, &by,
                         /*unlock_for_io=*/true)
                    .ok()) {
      result = absl::UnavailableError(
          "cannot commit the release to the store; the lease is still held, retry");
    }
    ServeWaiters(&done);
  }
  Complete(&done);
  return result;
}

absl::StatusOr<LeaseRecord> LeaseManager::Get(absl::string_view id,
                                              const Principal& by) {
  std::vector<Completion> done;
  absl::StatusOr<LeaseRecord> result;
  {
    absl::MutexLock lock(&mu_);
    Housekeep(&done);
    absl::StatusOr<Entry*> entry = FindAuthorized(id, by, "get");
    result = entry.ok() ? absl::StatusOr<LeaseRecord>((*entry)->record)
                        : absl::StatusOr<LeaseRecord>(entry.status());
  }
  Complete(&done);
  return result;
}

std::vector<LeaseRecord> LeaseManager::List(const Metadata& filter, Port from,
                                            size_t limit) {
  std::vector<Completion> done;
  std::vector<LeaseRecord> result;
  {
    absl::MutexLock lock(&mu_);
    Housekeep(&done);
    for (auto it = by_base_.lower_bound(from);
         it != by_base_.end() && result.size() < limit; ++it) {
      const LeaseRecord& r = leases_.at(it->second).record;
      const bool match = std::all_of(
          filter.begin(), filter.end(), [&r](const auto& kv) {
            auto it = r.owner.find(kv.first);
            return it != r.owner.end() && it->second == kv.second;
          });
      if (match) result.push_back(r);
    }
  }
  Complete(&done);
  return result;
}

absl::StatusOr<LeaseRecord> LeaseManager::AttachHolder(absl::string_view id,
                                                       const Principal& by) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Entry*> found =
      FindAuthorized(id, by, "hold", /*include_ending=*/true);
  if (!found.ok()) return found.status();
  Entry* entry = *found;
  if (!entry->record.held && !entry->ending) {
    // Remembered across a restart (see Load). Best effort: should the
    // store refuse, the lease still ends at its TTL.
    LeaseRecord held = entry->record;
    held.held = true;
    absl::Status committed = store_->Put(held);
    if (committed.ok()) {
      entry->record.held = true;
    } else {
      Emit(LeaseEvent::Type::kStoreError, &held, 0, committed.ToString(), &by);
    }
  }
  ++entry->holders;
  grace_.erase({entry->grace_deadline, entry->record.id});
  entry->grace_deadline = absl::InfiniteDuration();
  return entry->record;
}

void LeaseManager::DetachHolder(absl::string_view id) {
  absl::MutexLock lock(&mu_);
  Entry* entry = FindLive(id, /*include_ending=*/true);
  if (entry == nullptr || entry->holders == 0) return;
  if (--entry->holders > 0) return;
  entry->grace_deadline = clock_->Monotonic() + options_.hold_grace;
  // An ending lease is out of the indexes; it is put back if it stays.
  if (!entry->ending) grace_.emplace(entry->grace_deadline, entry->record.id);
}

absl::Status LeaseManager::EndLease(std::string id, LeaseEvent::Type why,
                                    const Principal* by, bool unlock_for_io) {
  Entry* entry = &leases_.at(id);
  std::vector<Port> busy;
  absl::Status committed;
  const bool release = unlock_for_io && entry->record.state == LeaseState::kLive;
  if (release) {
    // Commit without the lock, and without a probe: whether the ports are
    // still bound is checked after the reply (CheckReleasedPorts). Until
    // the commit the lease is out of the expiry and grace indexes and
    // invisible to FindLive (so nothing else ends it), and its ports stay
    // leased: they are freed only once the store says the lease is gone.
    entry->ending = true;
    expiry_.erase({entry->deadline, id});
    grace_.erase({entry->grace_deadline, id});
    const AuditEvent ended = Audit(why, &entry->record, by);
    mu_.Unlock();
    committed = store_->DeleteAudited(id, ended);
    mu_.Lock();
    entry = &leases_.at(id);
    entry->ending = false;
    if (!committed.ok()) {  // it stays: back into the indexes
      expiry_.emplace(entry->deadline, id);
      if (entry->grace_deadline != absl::InfiniteDuration()) {
        grace_.emplace(entry->grace_deadline, id);
      }
    }
  } else {
    const LeaseRecord& r = entry->record;
    absl::StatusOr<std::vector<Port>> held =
        prober_->Held(r.base, r.count, r.udp);
    // A probe fault (out of file descriptors) says nothing about the
    // ports: the lease stays as it is, and the caller retries (the next
    // Tick, for an expiry).
    if (!held.ok()) return held.status();
    busy = *std::move(held);
    if (busy.empty()) {
      committed = store_->DeleteAudited(id, Audit(why, &r, by));
    } else {
      LeaseRecord draining = entry->record;
      draining.state = LeaseState::kDraining;
      committed = store_->PutAudited(draining, Audit(why, &r, by));
    }
  }
  LeaseRecord& r = entry->record;
  if (!committed.ok()) {
    Emit(LeaseEvent::Type::kStoreError, &r, 0, committed.ToString(), by);
    return absl::UnavailableError(absl::StrCat(
        "cannot commit the end of the lease to the store; the lease is still "
        "held, retry: ",
        committed.message()));
  }
  if (!busy.empty()) {
    Unindex(*entry);
    --live_;
    CountOwner(r, -1);
    r.state = LeaseState::kDraining;
    entry->holders = 0;
    entry->grace_deadline = absl::InfiniteDuration();
    Emit(why, &r, 0, "", by);
    StartDraining(entry, busy);
    return absl::OkStatus();
  }
  Unindex(*entry);
  if (r.state == LeaseState::kLive) {
    --live_;
    CountOwner(r, -1);
  }
  Emit(why, &r, 0, "", by);
  FreeToQuarantine(r.base, r.count);
  if (release && unchecked_releases_.size() < kMaxUncheckedReleases) {
    unchecked_releases_.push_back(std::move(r));
  }
  leases_.erase(id);
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
    if (state_[p] != State::kQuarantined && state_[p] != State::kFree) return;
  }
  if (leases_.contains(record.id)) return;
  // Free already (no cool-down), its claim given up: it must be ours again
  // to drain here; if another server took it since, it is that server's.
  for (uint32_t p = record.base; p <= record.last(); ++p) {
    if (state_[p] != State::kFree) continue;
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
  Entry& entry = leases_[record.id];
  entry.record = std::move(record);
  StartDraining(&entry, busy);
}

void LeaseManager::StartDraining(Entry* entry, const std::vector<Port>& busy) {
  const LeaseRecord& r = entry->record;
  entry->next_probe = clock_->Monotonic() + options_.drain_probe_interval;
  Index(entry);
  SetState(r.base, r.count, State::kDraining);
  Emit(LeaseEvent::Type::kDraining, &r, busy.front(),
       absl::StrCat("still bound: ", absl::StrJoin(busy, ",")));
}

void LeaseManager::ProbeDraining(const std::string& id) {
  Entry& entry = leases_.at(id);
  const LeaseRecord& r = entry.record;
  drain_queue_.erase({entry.next_probe, id});
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
    entry.next_probe = clock_->Monotonic() + options_.drain_probe_interval;
    drain_queue_.emplace(entry.next_probe, id);
    return;
  }
  Unindex(entry);
  Emit(LeaseEvent::Type::kDrained, &r, 0, "");
  FreeToQuarantine(r.base, r.count);
  leases_.erase(id);
}

void LeaseManager::FreeToQuarantine(Port first, uint32_t count) {
  if (options_.cooldown <= absl::ZeroDuration()) {
    SetState(first, count, State::kFree);
    claims_->Unclaim(first, count);
    return;
  }
  SetState(first, count, State::kQuarantined);
  quarantine_.push_back({clock_->Monotonic() + options_.cooldown, first, count});
}

void LeaseManager::MarkBusy(Port port, absl::string_view detail) {
  if (state_[port] != State::kFree) return;
  SetState(port, 1, State::kBusy);
  backoff_.push_back({clock_->Monotonic() + options_.busy_backoff, port, 1});
  Emit(LeaseEvent::Type::kForeignBusy, nullptr, port,
       absl::StrCat(detail.empty() ? "bound by another process" : detail,
                    "; skipped"));
}

void LeaseManager::MarkClaimedElsewhere(const std::vector<Port>& claimed) {
  for (Port p : claimed) {
    // Named in the log when the claimer is still there (one F_GETLK).
    std::optional<ClaimHolder> holder = claims_->Holder(p);
    MarkBusy(p, holder.has_value()
                    ? absl::StrCat("claimed by portleased pid ", holder->pid)
                    : "claimed by another portleased");
  }
}

void LeaseManager::Housekeep(std::vector<Completion>* done) {
  CheckRecoveryOver();
  const absl::Duration now = clock_->Monotonic();
  // A lease that cannot end now (store refused, probe fault) stays due:
  // the next Housekeep tries again.
  while (!expiry_.empty() && expiry_.begin()->first <= now) {
    if (!EndLease(expiry_.begin()->second, LeaseEvent::Type::kExpired,
                  /*by=*/nullptr)
             .ok()) {
      break;
    }
  }
  while (!grace_.empty() && grace_.begin()->first <= now) {
    if (!EndLease(grace_.begin()->second, LeaseEvent::Type::kHolderLost,
                  /*by=*/nullptr)
             .ok()) {
      break;
    }
  }
  // Each draining lease is probed at most once per pass.
  std::vector<std::string> due;
  for (auto it = drain_queue_.begin();
       it != drain_queue_.end() && it->first <= now; ++it) {
    due.push_back(it->second);
  }
  for (const std::string& id : due) ProbeDraining(id);
  for (std::deque<Timed>* timed : {&quarantine_, &backoff_}) {
    while (!timed->empty() && timed->front().until <= now) {
      const Timed t = timed->front();
      timed->pop_front();
      const State expected =
          timed == &quarantine_ ? State::kQuarantined : State::kBusy;
      for (uint32_t p = t.first; p < uint32_t{t.first} + t.count; ++p) {
        if (state_[p] != expected) continue;
        SetState(static_cast<Port>(p), 1, State::kFree);
        // Cooled down: back in the free pool, so no longer this server's.
        if (expected == State::kQuarantined) {
          claims_->Unclaim(static_cast<Port>(p), 1);
        }
      }
    }
  }
  ServeWaiters(done);
}

void LeaseManager::Tick() {
  CheckReleasedPorts();
  std::vector<Completion> done;
  {
    absl::MutexLock lock(&mu_);
    Housekeep(&done);
    const absl::Duration now = clock_->Monotonic();
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->deadline > now) {
        ++it;
        continue;
      }
      done.emplace_back(std::move(it->done),
                        absl::DeadlineExceededError("gave up waiting for ports"));
      it = waiters_.erase(it);
      serve_pending_ = true;
    }
    ServeWaiters(&done);
  }
  Complete(&done);
}

absl::Duration LeaseManager::NextTickDue() {
  absl::MutexLock lock(&mu_);
  absl::Duration due = absl::InfiniteDuration();
  for (const auto* set : {&expiry_, &grace_, &drain_queue_}) {
    if (!set->empty()) due = std::min(due, set->begin()->first);
  }
  for (const std::deque<Timed>* timed : {&quarantine_, &backoff_}) {
    if (!timed->empty()) due = std::min(due, timed->front().until);
  }
  for (const Waiter& w : waiters_) due = std::min(due, w.deadline);
  if (recovery_until_ > absl::ZeroDuration()) {
    due = std::min(due, recovery_until_);
  }
  if (!unchecked_releases_.empty()) due = clock_->Monotonic();
  return due;
}

PortView LeaseManager::ViewPort(Port port) {
  PortView view;
  // This server's own claims never show: the kernel reports only another
  // process's lock.
  view.claimed_by = claims_->Holder(port);
  absl::MutexLock lock(&mu_);
  view.state = state_[port];
  if (const Entry* entry = FindByPort(port); entry != nullptr) {
    view.lease = entry->record;
  }
  return view;
}

PoolStats LeaseManager::Stats() {
  absl::MutexLock lock(&mu_);
  PoolStats s;
  s.pool_size = allocator_.pool_size();
  s.free = allocator_.available();
  s.leased = count_[static_cast<int>(State::kLeased)];
  s.quarantined = count_[static_cast<int>(State::kQuarantined)];
  s.draining = count_[static_cast<int>(State::kDraining)];
  s.busy = count_[static_cast<int>(State::kBusy)];
  s.disabled = count_[static_cast<int>(State::kDisabled)];
  s.largest_free_block = allocator_.largest_block();
  s.live_leases = live_;
  s.draining_leases = static_cast<uint32_t>(leases_.size()) - live_;
  s.waiters = static_cast<uint32_t>(waiters_.size());
  return s;
}

}  // namespace portlease
