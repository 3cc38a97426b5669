#include "server/core/lease_manager.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

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
  absl::StatusOr<PoolConfig> pool =
      PoolConfig::Make(options.pool, options.exclude, options.pool_fit);
  if (!pool.ok()) return pool.status();
  if (!options.new_id) options.new_id = RandomLeaseId;
  std::unique_ptr<LeaseManager> manager(
      new LeaseManager(std::move(options), *pool, clock, store, prober));
  absl::Status loaded = manager->Load();
  if (!loaded.ok()) return loaded;
  return manager;
}

LeaseManager::LeaseManager(LeaseManagerOptions options,
                           const PoolConfig& pool, Clock* clock,
                           LeaseStore* store, PortProber* prober)
    : options_(std::move(options)),
      rules_(options_),
      clock_(clock),
      store_(store),
      prober_(prober),
      claims_(options_.claims != nullptr ? options_.claims : &no_claims_),
      ports_(pool.ranges(), pool.excluded()),
      leases_(rules_.LimitsOwners()) {}

LeaseManager::~LeaseManager() {
  Completions done;
  {
    absl::MutexLock lock(&mu_);
    for (AcquireCallback& waiter : waiters_.TakeAll()) {
      done.Add(std::move(waiter),
               absl::UnavailableError("the lease server is shutting down"));
    }
  }
  done.Run();
}

absl::Status LeaseManager::Load() {
  absl::StatusOr<std::vector<LeaseRecord>> stored = store_->LoadAll();
  if (!stored.ok()) return stored.status();
  absl::StatusOr<std::vector<Port>> drained = store_->LoadDrainedPorts();
  if (!drained.ok()) return drained.status();
  absl::MutexLock lock(&mu_);
  // Drained ports outside the pool are remembered, and rest disabled should
  // a later SetPool bring them back.
  for (Port port : *drained) ports_.SetDrained(port, true);
  const absl::Time now = clock_->Now();
  const absl::Duration mono = clock_->Monotonic();
  for (LeaseRecord& record : *stored) {
    if (PortsMalformed(record) || leases_.Contains(record.id)) {
      return absl::DataLossError(absl::StrCat(
          "stored lease ", record.IdPrefix(), " is malformed (ports ",
          Ports(record), ")"));
    }
    for (uint32_t p = record.base; p <= record.last(); ++p) {
      const State state = ports_.state(static_cast<Port>(p));
      if (state == State::kLeased || state == State::kDraining) {
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
      leases_.CountOwner(record, +1);
    } else {
      // Expired while the server was down, or draining: free its ports only
      // once a probe says nobody uses them.
      record.state = LeaseState::kDraining;
      entry.next_probe = mono;
      SetState(record.base, record.count, State::kDraining);
    }
    // Its Hold stream broke with the restart: one grace to attach again.
    if (record.state == LeaseState::kLive && record.held) {
      entry.grace_deadline = mono + options_.hold_grace;
    }
    entry.record = std::move(record);
    leases_.Insert(std::move(entry));
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
  Entry* entry = leases_.FindLive(id, include_ending);
  if (entry == nullptr) return NotFound(id);
  absl::Status allowed = Authorize(entry->record, by, verb);
  if (!allowed.ok()) return allowed;
  return entry;
}

void LeaseManager::SetState(Port first, uint32_t count, State state) {
  ports_.Set(first, count, state);
  if (state == State::kFree) serve_pending_ = true;
}

void LeaseManager::Emit(LeaseEvent::Type type, const LeaseRecord* lease,
                        Port port, std::string detail, const Principal* by) {
  if (!options_.on_event) return;
  options_.on_event(MakeEvent(type, lease, port, std::move(detail), by));
}

absl::Status LeaseManager::Validate(const AcquireParams& params) const {
  return rules_.Validate(params);
}


absl::StatusOr<LeaseRecord> LeaseManager::Renew(absl::string_view id,
                                                absl::Duration ttl,
                                                const Principal& by) {
  Completions done;
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
        leases_.SetDeadline(entry, clock_->Monotonic() + renewed.ttl);
        entry->record = std::move(renewed);
        Emit(LeaseEvent::Type::kRenewed, &entry->record, 0, "", &by);
        result = entry->record;
      }
    }
  }
  done.Run();
  return result;
}

absl::StatusOr<LeaseRecord> LeaseManager::Get(absl::string_view id,
                                              const Principal& by) {
  Completions done;
  absl::StatusOr<LeaseRecord> result;
  {
    absl::MutexLock lock(&mu_);
    Housekeep(&done);
    absl::StatusOr<Entry*> entry = FindAuthorized(id, by, "get");
    result = entry.ok() ? absl::StatusOr<LeaseRecord>((*entry)->record)
                        : absl::StatusOr<LeaseRecord>(entry.status());
  }
  done.Run();
  return result;
}

std::vector<LeaseRecord> LeaseManager::List(const Metadata& filter, Port from,
                                            size_t limit) {
  Completions done;
  std::vector<LeaseRecord> result;
  {
    absl::MutexLock lock(&mu_);
    Housekeep(&done);
    leases_.ForEachFrom(from, [&](const LeaseRecord& r) {
      if (result.size() >= limit) return false;
      const bool match = std::all_of(
          filter.begin(), filter.end(), [&r](const auto& kv) {
            auto it = r.owner.find(kv.first);
            return it != r.owner.end() && it->second == kv.second;
          });
      if (match) result.push_back(r);
      return true;
    });
  }
  done.Run();
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
  leases_.SetGrace(entry, absl::InfiniteDuration());
  return entry->record;
}

void LeaseManager::DetachHolder(absl::string_view id) {
  absl::MutexLock lock(&mu_);
  Entry* entry = leases_.FindLive(id, /*include_ending=*/true);
  if (entry == nullptr || entry->holders == 0) return;
  if (--entry->holders > 0) return;
  leases_.SetGrace(entry, clock_->Monotonic() + options_.hold_grace);
}

void LeaseManager::MarkBusy(Port port, absl::string_view detail) {
  if (!ports_.BackOff(port, clock_->Monotonic() + options_.busy_backoff)) {
    return;
  }
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

absl::Duration LeaseManager::NextTickDue() {
  absl::MutexLock lock(&mu_);
  absl::Duration due = leases_.NextDue();
  if (std::optional<absl::Duration> timer = ports_.NextTimer()) {
    due = std::min(due, *timer);
  }
  due = std::min(due, waiters_.EarliestDeadline());
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
  view.state = ports_.state(port);
  if (const Entry* entry = leases_.FindByPort(port); entry != nullptr) {
    view.lease = entry->record;
  }
  return view;
}

PoolStats LeaseManager::Stats() {
  absl::MutexLock lock(&mu_);
  PoolStats s;
  s.pool_size = ports_.pool_size();
  s.free = ports_.available();
  s.leased = ports_.count(State::kLeased);
  s.quarantined = ports_.count(State::kQuarantined);
  s.draining = ports_.count(State::kDraining);
  s.busy = ports_.count(State::kBusy);
  s.disabled = ports_.count(State::kDisabled);
  s.largest_free_block = ports_.largest_block();
  s.live_leases = leases_.live();
  s.draining_leases = leases_.draining();
  s.waiters = static_cast<uint32_t>(waiters_.size());
  return s;
}

}  // namespace portlease
