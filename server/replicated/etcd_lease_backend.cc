// EtcdLeaseBackend: creation, the cache and its watch, housekeeping, and
// the reads.
#include "server/replicated/etcd_lease_backend.h"

#include <algorithm>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace portlease::replicated {
namespace {

constexpr absl::Duration kReloadRetryDelay = absl::Milliseconds(500);

absl::Status NotImplemented(absl::string_view what) {
  return absl::UnimplementedError(absl::StrCat(
      what, " is not implemented by the replicated (etcd) backend yet"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdLeaseBackend>> EtcdLeaseBackend::Create(
    EtcdLeaseBackendOptions options, Clock* clock, etcd::EtcdClient* client) {
  absl::Status valid = ValidateOptions(options.rules);
  if (!valid.ok()) return valid;
  if (options.prefix.empty() || options.max_attempts == 0) {
    return absl::InvalidArgumentError(
        "the replicated backend needs an etcd key prefix and at least one "
        "attempt per request");
  }
  absl::StatusOr<PoolConfig> pool = PoolConfig::Make(
      options.rules.pool, options.rules.exclude, options.rules.pool_fit);
  if (!pool.ok()) return pool.status();
  if (!options.rules.new_id) options.rules.new_id = RandomLeaseId;
  std::unique_ptr<EtcdLeaseBackend> backend(
      new EtcdLeaseBackend(std::move(options), *pool, clock, client));
  absl::Status loaded = backend->Reload();
  if (!loaded.ok()) return loaded;
  backend->housekeeper_ = std::thread([raw = backend.get()] {
    raw->Housekeeping();
  });
  return backend;
}

EtcdLeaseBackend::EtcdLeaseBackend(EtcdLeaseBackendOptions options,
                                   const PoolConfig& pool, Clock* clock,
                                   etcd::EtcdClient* client)
    : options_(std::move(options)),
      rules_(options_.rules),
      clock_(clock),
      client_(client),
      keys_(options_.prefix),
      cache_(keys_, pool) {
  // Replicas start their first-fit scans at different ports, so that they
  // do not all race for the same block.
  const std::vector<PortRange>& ranges = pool.ranges();
  const uint32_t offset = static_cast<uint32_t>(
      absl::HashOf(options_.rules.new_id()) % pool.size());
  cursor_ = static_cast<Port>(ranges.front().lo + offset);
}

EtcdLeaseBackend::~EtcdLeaseBackend() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (housekeeper_.joinable()) housekeeper_.join();
  {
    absl::MutexLock lock(&watch_mu_);
    watch_.reset();
  }
  Completions done;
  absl::MutexLock lock(&mu_);
  for (AcquireCallback& waiter : waiters_.TakeAll()) {
    done.Add(std::move(waiter),
             absl::UnavailableError("the lease server is shutting down"));
  }
}

absl::Status EtcdLeaseBackend::Reload() {
  absl::MutexLock watch_lock(&watch_mu_);
  // The old watch first, so that none of its batches lands after the Range.
  watch_.reset();
  absl::StatusOr<etcd::RangeResult> all =
      client_->Range(keys_.prefix(), etcd::PrefixEnd(keys_.prefix()));
  if (!all.ok()) {
    absl::MutexLock lock(&mu_);
    reload_needed_ = true;
    return absl::UnavailableError(absl::StrCat(
        "cannot read the leases from etcd: ", all.status().message()));
  }
  {
    absl::MutexLock lock(&mu_);
    cache_.Reset(all->kvs, all->revision);
    reload_needed_ = false;
    serve_pending_ = true;
  }
  watch_ = client_->Watch(
      keys_.prefix(), all->revision + 1,
      [this](absl::StatusOr<etcd::WatchBatch> batch) {
        OnWatch(std::move(batch));
      });
  return absl::OkStatus();
}

void EtcdLeaseBackend::OnWatch(absl::StatusOr<etcd::WatchBatch> batch) {
  absl::MutexLock lock(&mu_);
  if (!batch.ok()) {
    // Compacted past us, or canceled: the watch has ended; reload.
    reload_needed_ = true;
    return;
  }
  if (cache_.Apply(*batch) && !waiters_.empty()) serve_pending_ = true;
}

void EtcdLeaseBackend::Housekeeping() {
  const absl::Duration interval =
      std::max(options_.rules.hold_grace / 3, absl::Milliseconds(100));
  absl::Duration next_keepalive = clock_->Monotonic();
  bool answering = true;  // etcd, as last seen by this thread
  while (true) {
    bool reload = false;
    bool serve = false;
    {
      absl::MutexLock lock(&mu_);
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        // Waiters being served by another thread get looked at by it.
        return stop_ || (serve_pending_ && !serving_) || reload_needed_;
      };
      const absl::Duration wait = next_keepalive - clock_->Monotonic();
      mu_.AwaitWithTimeout(absl::Condition(&wake),
                           std::max(wait, absl::ZeroDuration()));
      if (stop_) return;
      reload = reload_needed_;
      serve = serve_pending_;
    }
    if (reload) {
      const absl::Status reloaded = Reload();
      ReportEtcdState(reloaded, &answering);
      if (!reloaded.ok()) {
        // etcd unreachable: try again a little later, not in a tight loop.
        absl::MutexLock lock(&mu_);
        auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stop_;
        };
        mu_.AwaitWithTimeout(absl::Condition(&stopping), kReloadRetryDelay);
      }
    }
    if (clock_->Monotonic() >= next_keepalive) {
      next_keepalive = clock_->Monotonic() + interval;
      ReportEtcdState(KeepHoldersAlive(), &answering);
    }
    if (serve) ServeWaiters();
  }
}

absl::Status EtcdLeaseBackend::KeepHoldersAlive() {
  std::vector<std::pair<std::string, int64_t>> held;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, hold] : holds_) held.emplace_back(id, hold.etcd_lease);
  }
  absl::Status answered = absl::OkStatus();
  bool any_kept = held.empty();
  for (const auto& [id, etcd_lease] : held) {
    absl::StatusOr<int64_t> kept = client_->LeaseKeepAliveOnce(etcd_lease);
    if (kept.ok()) any_kept = true;
    if (!absl::IsNotFound(kept.status())) {  // kept, or retried later
      if (!kept.ok()) answered = kept.status();
      continue;
    }
    any_kept = true;  // etcd answered
    // The hold lease ended (released, expired, or its grace ran out while
    // nobody kept it alive): so has the lease.
    absl::MutexLock lock(&mu_);
    auto it = holds_.find(id);
    if (it != holds_.end() && it->second.etcd_lease == etcd_lease) {
      holds_.erase(it);
    }
  }
  return any_kept ? absl::OkStatus() : answered;
}

void EtcdLeaseBackend::ReportEtcdState(const absl::Status& status,
                                       bool* answering) {
  if (status.ok() == *answering) return;
  *answering = status.ok();
  if (options_.on_etcd_state) options_.on_etcd_state(status);
}

int64_t EtcdLeaseBackend::EtcdSeconds(absl::Duration d) const {
  return std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(d, absl::Seconds(1))));
}

absl::StatusOr<std::optional<StoredLease>> EtcdLeaseBackend::ReadLease(
    absl::string_view id) {
  absl::StatusOr<etcd::RangeResult> read = client_->Range(keys_.LeaseKey(id));
  if (!read.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "cannot read lease ", absl::CHexEscape(id.substr(0, 8)),
        "... from etcd: ", read.status().message()));
  }
  if (read->kvs.empty()) return std::optional<StoredLease>();
  absl::StatusOr<StoredLease> stored =
      DecodeLease(read->kvs.front(), std::string(id));
  if (!stored.ok()) return stored.status();
  return std::optional<StoredLease>(*std::move(stored));
}

absl::StatusOr<StoredLease> EtcdLeaseBackend::FindAuthorized(
    absl::string_view id, const Principal& by, absl::string_view verb,
    uint64_t fencing_token) {
  if (!IsLeaseId(id)) return LeaseNotFound(id);
  absl::StatusOr<std::optional<StoredLease>> read = ReadLease(id);
  if (!read.ok()) return read.status();
  // A record past its expiry is over, whether or not a Tick ended it yet.
  if (!read->has_value() || (*read)->record.expires_at <= clock_->Now()) {
    return LeaseNotFound(id);
  }
  StoredLease& stored = **read;
  absl::Status allowed = Authorize(stored.record, by, verb);
  if (!allowed.ok()) return allowed;
  if (fencing_token != 0 && fencing_token != stored.record.fencing_token) {
    return absl::NotFoundError(absl::StrCat(
        "lease ", stored.record.IdPrefix(), "... was granted again: fencing "
        "token ", fencing_token, " is not its current one"));
  }
  return std::move(stored);
}

absl::StatusOr<LeaseRecord> EtcdLeaseBackend::Get(absl::string_view id,
                                                  const Principal& by) {
  absl::StatusOr<StoredLease> found = FindAuthorized(id, by, "get");
  if (!found.ok()) return found.status();
  return found->record;
}

std::vector<LeaseRecord> EtcdLeaseBackend::List(const Metadata& filter,
                                                Port from, size_t limit) {
  std::vector<LeaseRecord> result;
  const absl::Time now = clock_->Now();
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, stored] : cache_.leases()) {
      const LeaseRecord& r = stored.record;
      // Expired ones are over, whether or not a Tick ended them yet.
      if (r.base < from || r.expires_at <= now) continue;
      const bool match = std::all_of(
          filter.begin(), filter.end(), [&r](const auto& kv) {
            auto it = r.owner.find(kv.first);
            return it != r.owner.end() && it->second == kv.second;
          });
      if (match) result.push_back(r);
    }
  }
  std::sort(result.begin(), result.end(),
            [](const LeaseRecord& a, const LeaseRecord& b) {
              return a.base < b.base;
            });
  if (result.size() > limit) result.resize(limit);
  return result;
}

absl::StatusOr<LeaseRecord> EtcdLeaseBackend::Reattach(
    const LeaseRecord& snapshot, const Principal& by) {
  if (!IsLeaseId(snapshot.id)) {
    return absl::InvalidArgumentError(
        "the lease snapshot has no full lease id (32 hex digits)");
  }
  absl::StatusOr<StoredLease> found = FindAuthorized(snapshot.id, by, "hold");
  if (absl::IsNotFound(found.status())) {
    return NotReattached(snapshot.id,
                         "the replicated store no longer has it (released, "
                         "expired, or its holders' grace ran out)");
  }
  if (!found.ok()) return found.status();
  return found->record;
}

PortView EtcdLeaseBackend::ViewPort(Port port) {
  using State = PortView::State;
  PortView view;
  absl::MutexLock lock(&mu_);
  if (const StoredLease* lease = cache_.FindByPort(port)) {
    view.lease = lease->record;
  }
  if (!cache_.InPool(port)) {
    view.state = view.lease ? State::kLeased : State::kOutsidePool;
  } else if (cache_.Excluded(port)) {
    view.state = State::kExcluded;
  } else if (cache_.Taken(port)) {
    view.state = State::kLeased;
  } else if (cache_.Quarantined(port)) {
    view.state = State::kQuarantined;
  } else {
    view.state = State::kFree;
  }
  return view;
}

absl::StatusOr<std::vector<AuditEvent>> EtcdLeaseBackend::Events(
    const EventQuery&) {
  return NotImplemented("the audit trail (events)");
}

absl::Status EtcdLeaseBackend::DrainPort(Port, const Principal&) {
  return NotImplemented("drain");
}

absl::Status EtcdLeaseBackend::UndrainPort(Port, const Principal&) {
  return NotImplemented("undrain");
}

absl::StatusOr<PoolChange> EtcdLeaseBackend::SetPool(std::vector<PortRange>,
                                                     std::vector<Port>,
                                                     const Principal&) {
  return NotImplemented("set-pool");
}

PoolStats EtcdLeaseBackend::Stats() {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  PoolStats s;
  s.pool_size = cache_.pool_size();
  s.free = cache_.FreeCount();
  s.leased = cache_.TakenInPool();
  s.quarantined = cache_.QuarantinedInPool();
  s.largest_free_block = cache_.LargestFreeBlock();
  s.live_leases = static_cast<uint32_t>(std::count_if(
      cache_.leases().begin(), cache_.leases().end(),
      [now](const auto& entry) { return entry.second.record.expires_at > now; }));
  s.waiters = static_cast<uint32_t>(waiters_.size());
  return s;
}

void EtcdLeaseBackend::Tick() {
  bool reload = false;
  {
    absl::MutexLock lock(&mu_);
    reload = reload_needed_;
    serve_pending_ = true;  // waiters retry on every Tick
  }
  if (reload) (void)Reload();
  ExpireDue();
  ServeWaiters();
}

absl::Duration EtcdLeaseBackend::NextTickDue() {
  const absl::Duration mono = clock_->Monotonic();
  const absl::Time now = clock_->Now();
  absl::Duration due = mono + absl::Seconds(1);
  absl::MutexLock lock(&mu_);
  due = std::min(due, waiters_.EarliestDeadline());
  for (const auto& [id, stored] : cache_.leases()) {
    due = std::min(due, mono + std::max(stored.record.expires_at - now,
                                        absl::ZeroDuration()));
  }
  return due;
}

}  // namespace portlease::replicated
