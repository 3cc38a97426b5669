// EtcdLeaseBackend's grant path: Acquire (candidate blocks from the cache,
// each tried by one guarded Txn), AcquireOrWait and the waiters' queue.
#include <algorithm>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/replicated/etcd_lease_backend.h"

namespace portlease::replicated {

using etcd::Compare;
using etcd::Op;

// What one Acquire carries from candidate to candidate.
struct EtcdLeaseBackend::Attempt {
  int64_t etcd_lease = 0;  // granted once, reused by every candidate
  // When it was asked for (before the LeaseGrant): its TTL counts from
  // about then, so no candidate's lease may expire later than this + ttl.
  absl::Time etcd_lease_from;
  absl::flat_hash_set<Port> avoid;
  uint32_t busy = 0;  // ports a probe found busy
  uint32_t lost = 0;  // candidates another replica took first
  bool request_taken = false;  // the request_id was granted meanwhile
  LeaseRecord granted;
};

absl::Status EtcdLeaseBackend::Validate(const AcquireParams& params) const {
  if (RequestedPorts(params) > kMaxPortsPerLease) {
    return absl::InvalidArgumentError(absl::StrCat(
        "asked for ", RequestedPorts(params), " ports; a replicated server "
        "grants at most ", kMaxPortsPerLease, " in one lease (each port costs "
        "two comparisons in etcd's grant transaction, whose --max-txn-ops "
        "is 128)"));
  }
  return rules_.Validate(params);
}

std::optional<absl::StatusOr<LeaseRecord>> EtcdLeaseBackend::AnswerRetry(
    const AcquireParams& params) {
  if (params.request_id.empty()) return std::nullopt;
  absl::StatusOr<etcd::RangeResult> known = client_->Range(
      keys_.RequestKey(params.caller.id, params.request_id));
  if (!known.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "cannot read the request from etcd: ", known.status().message()));
  }
  if (known->kvs.empty()) return std::nullopt;
  absl::StatusOr<std::optional<StoredLease>> lease =
      ReadLease(known->kvs.front().value);
  if (!lease.ok()) return lease.status();
  // A lease's keys come and go together: the request key without its
  // record means the lease ended between the two reads.
  if (!lease->has_value()) {
    return absl::UnavailableError(
        "the lease of this request_id is ending right now; retry");
  }
  const LeaseRecord& existing = (*lease)->record;
  if (existing.expires_at <= clock_->Now()) {
    // Over, but no Tick ended it yet: end it (unless renewed meanwhile),
    // and the request is a new one. The grant's guard on the request key
    // decides if it is not ended.
    (void)EndLease(**lease, etcd::Compare::ModRevision(
                                keys_.LeaseKey(existing.id),
                                etcd::Compare::kEqual, (*lease)->mod_revision));
    return std::nullopt;
  }
  if (!SameRequest(existing, params)) {
    return RequestIdReused(params.request_id);
  }
  return existing;
}

absl::Status EtcdLeaseBackend::CheckGrantable(const AcquireParams& params) {
  uint32_t pool_size = 0;
  std::pair<uint32_t, uint32_t> share;
  {
    absl::MutexLock lock(&mu_);
    pool_size = cache_.pool_size();
    if (rules_.LimitsOwners() && !params.caller.id.empty()) {
      share = cache_.Share(params.caller.id);
    }
  }
  absl::Status ok = rules_.CheckFitsPool(params, pool_size);
  if (ok.ok() && rules_.LimitsOwners() && !params.caller.id.empty()) {
    ok = rules_.CheckOwnerShare(params.caller.id,
                                OwnerShare{share.first, share.second},
                                RequestedPorts(params));
  }
  return ok;
}

absl::StatusOr<LeaseRecord> EtcdLeaseBackend::Acquire(
    const AcquireParams& params) {
  absl::Status valid = Validate(params);
  if (!valid.ok()) return valid;
  if (auto answer = AnswerRetry(params)) return *std::move(answer);
  if (absl::Status ok = CheckGrantable(params); !ok.ok()) return ok;
  const uint32_t count = RequestedPorts(params);
  Attempt attempt;
  // The etcd lease outlives a failed request only when its revoke fails;
  // then it expires after its TTL, with no key attached.
  absl::Cleanup revoke = [this, &attempt] {
    if (attempt.etcd_lease != 0) (void)client_->LeaseRevoke(attempt.etcd_lease);
  };
  for (uint32_t i = 0; i < options_.max_attempts; ++i) {
    std::optional<Port> base;
    {
      absl::MutexLock lock(&mu_);
      const absl::Duration now = clock_->Monotonic();
      for (auto it = busy_until_.begin(); it != busy_until_.end();) {
        if (it->second <= now) {
          busy_until_.erase(it++);
        } else {
          attempt.avoid.insert(it->first);
          ++it;
        }
      }
      base = cache_.FindBlock(count, cursor_, attempt.avoid);
    }
    if (!base) break;
    absl::StatusOr<bool> granted = TryBlock(params, *base, &attempt);
    if (!granted.ok()) return granted.status();
    if (attempt.request_taken) break;
    if (!*granted) continue;
    attempt.etcd_lease = 0;  // the lease's own now
    absl::MutexLock lock(&mu_);
    cursor_ = static_cast<Port>(attempt.granted.last() + 1);
    return attempt.granted;
  }
  // A lost race on the request key: the other replica's grant answers.
  if (auto answer = AnswerRetry(params)) return *std::move(answer);
  if (attempt.request_taken) {
    return absl::UnavailableError(
        "a request with this request_id was being granted by another "
        "server; retry");
  }
  return Exhausted(count, attempt.busy, attempt.lost);
}

absl::StatusOr<bool> EtcdLeaseBackend::ProbeFree(const AcquireParams& params,
                                                 Port base, Attempt* attempt) {
  if (options_.probe == nullptr) return true;
  const uint32_t count = RequestedPorts(params);
  absl::StatusOr<std::vector<Port>> busy =
      options_.probe->Busy(base, count, params.udp);
  if (!busy.ok()) return busy.status();
  if (busy->empty()) return true;
  absl::MutexLock lock(&mu_);
  for (Port p : *busy) {
    busy_until_[p] = clock_->Monotonic() + options_.rules.busy_backoff;
    attempt->avoid.insert(p);
    ++attempt->busy;
  }
  return false;
}

LeaseRecord EtcdLeaseBackend::NewRecord(const AcquireParams& params,
                                        Port base) {
  LeaseRecord record;
  record.id = options_.rules.new_id();
  record.names = params.names;
  record.base = base;
  record.count = RequestedPorts(params);
  record.udp = params.udp;
  record.owner = params.owner;
  record.request_id = params.request_id;
  record.caller = params.caller.id;
  record.ttl = rules_.GrantTtl(params.ttl);
  record.created_at = clock_->Now();
  record.expires_at = record.created_at + record.ttl;
  return record;
}

absl::StatusOr<bool> EtcdLeaseBackend::TryBlock(const AcquireParams& params,
                                                Port base, Attempt* attempt) {
  absl::StatusOr<bool> free = ProbeFree(params, base, attempt);
  if (!free.ok() || !*free) return free;
  LeaseRecord record = NewRecord(params, base);
  const Port last = record.last();
  if (attempt->etcd_lease == 0) {
    absl::StatusOr<etcd::LeaseGrantResult> lease =
        client_->LeaseGrant(EtcdSeconds(record.ttl));
    if (!lease.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "cannot create the lease in etcd, nothing was granted: ",
          lease.status().message()));
    }
    attempt->etcd_lease = lease->id;
    attempt->etcd_lease_from = record.created_at;
  }
  // A later candidate (after a lost Txn or a slow probe) still puts its keys
  // on the first candidate's etcd lease: its expiry may not be later than
  // that lease's, or etcd would delete the keys, and another replica grant
  // the ports, while the holder was told the lease still ran.
  record.expires_at =
      std::min(record.expires_at, attempt->etcd_lease_from + record.ttl);
  const int64_t lease = attempt->etcd_lease;
  std::vector<Compare> guard;
  std::vector<Op> puts;
  for (uint32_t p = base; p <= last; ++p) {
    guard.push_back(Compare::Absent(keys_.PortKey(static_cast<Port>(p))));
    guard.push_back(Compare::Absent(keys_.QuarantineKey(static_cast<Port>(p))));
    puts.push_back(Op::Put(keys_.PortKey(static_cast<Port>(p)), record.id, lease));
  }
  puts.push_back(Op::Put(keys_.LeaseKey(record.id), EncodeLease(record, lease), lease));
  if (!record.request_id.empty()) {
    const std::string request = keys_.RequestKey(record.caller, record.request_id);
    guard.push_back(Compare::Absent(request));
    puts.push_back(Op::Put(request, record.id, lease));
  }
  // When the guard fails: what holds the block now, for the cache.
  std::vector<Op> seen = {
      Op::Range(keys_.PortKey(base), keys_.PortEnd(last)),
      Op::Range(keys_.QuarantineKey(base), keys_.QuarantineEnd(last))};
  if (!record.request_id.empty()) {
    seen.push_back(Op::Range(keys_.RequestKey(record.caller, record.request_id)));
  }
  absl::StatusOr<etcd::TxnResult> txn = client_->Txn(guard, puts, seen);
  if (!txn.ok()) {
    if (absl::StrContains(txn.status().message(), "may have been applied")) {
      // Read back before deciding: the lease exists, or it never will (its
      // etcd lease is revoked on the way out, so a late apply fails).
      absl::StatusOr<std::optional<StoredLease>> back = ReadLease(record.id);
      if (back.ok() && back->has_value()) {
        attempt->granted = (*back)->record;
        return true;
      }
    }
    return absl::UnavailableError(absl::StrCat(
        "cannot commit the lease to etcd, nothing was granted: ",
        txn.status().message()));
  }
  if (txn->succeeded) {
    record.fencing_token = static_cast<uint64_t>(txn->revision);
    ObserveGrant(record, puts, txn->revision);
    attempt->granted = std::move(record);
    return true;
  }
  absl::MutexLock lock(&mu_);
  for (const std::vector<etcd::KeyValue>& kvs : txn->ranges) {
    cache_.Observe(kvs, txn->revision);
    for (const etcd::KeyValue& kv : kvs) {
      KeySpace::Parsed parsed = keys_.Parse(kv.key);
      if (parsed.kind == KeySpace::Kind::kRequest) {
        attempt->request_taken = true;  // another replica granted it
      } else {
        attempt->avoid.insert(parsed.port);
      }
    }
  }
  if (!attempt->request_taken) ++attempt->lost;
  return false;
}

void EtcdLeaseBackend::ObserveGrant(const LeaseRecord& record,
                                    const std::vector<Op>& puts,
                                    int64_t revision) {
  // The cache learns its own grants before the watch tells it, so that
  // this replica's next request does not race for the same block.
  std::vector<etcd::KeyValue> kvs;
  for (const Op& put : puts) {
    etcd::KeyValue kv;
    kv.key = put.key;
    kv.value = put.value;
    kv.create_revision = kv.mod_revision = revision;
    kv.lease = put.lease;
    kvs.push_back(std::move(kv));
  }
  absl::MutexLock lock(&mu_);
  cache_.Observe(kvs, revision);
}

absl::Status EtcdLeaseBackend::Exhausted(uint32_t count, uint32_t busy,
                                         uint32_t lost) {
  absl::MutexLock lock(&mu_);
  return absl::ResourceExhaustedError(absl::StrCat(
      "the pool cannot serve ", count, " contiguous port",
      count == 1 ? "" : "s", ": ", cache_.FreeCount(), " of ",
      cache_.pool_size(), " free (largest free block ",
      cache_.LargestFreeBlock(), "), ", cache_.QuarantinedInPool(),
      " cooling down",
      busy_until_.empty()
          ? ""
          : absl::StrCat(", ", busy_until_.size(),
                         " bound by other processes (", busy,
                         " found just now)"),
      lost ? absl::StrCat(", ", lost, " candidate block",
                          lost == 1 ? "" : "s", " taken by other servers first")
           : "",
      "; release leases, ask for fewer ports, or wait"));
}

uint64_t EtcdLeaseBackend::AcquireOrWait(AcquireParams params,
                                         absl::Duration deadline,
                                         AcquireCallback done) {
  absl::Status valid = Validate(params);
  if (valid.ok()) valid = CheckGrantable(params);
  if (!valid.ok()) {
    done(valid);
    return 0;
  }
  bool queue_empty = false;
  {
    absl::MutexLock lock(&mu_);
    queue_empty = waiters_.empty();
  }
  absl::StatusOr<LeaseRecord> result =
      absl::ResourceExhaustedError("queued behind earlier waiters");
  if (queue_empty) result = Acquire(params);
  if (!absl::IsResourceExhausted(result.status())) {
    done(std::move(result));
    return 0;
  }
  Completions completions;
  uint64_t ticket = 0;
  absl::MutexLock lock(&mu_);
  if (deadline <= clock_->Monotonic()) {
    completions.Add(std::move(done),
                    absl::DeadlineExceededError(absl::StrCat(
                        "gave up waiting for ports: ",
                        result.status().message())));
  } else if (waiters_.size() >= options_.rules.max_waiters) {
    completions.Add(std::move(done),
                    absl::ResourceExhaustedError(absl::StrCat(
                        "too many waiting requests (", waiters_.size(),
                        "); the pool is exhausted: ",
                        result.status().message())));
  } else {
    ticket = waiters_.Push(std::move(params), deadline, std::move(done));
    // Ports freed between the try and the push woke nobody: look again.
    serve_pending_ = true;
  }
  return ticket;  // `completions` runs after `lock` is released
}

void EtcdLeaseBackend::CancelWait(uint64_t ticket) {
  std::optional<AcquireCallback> waiter;
  {
    absl::MutexLock lock(&mu_);
    waiter = waiters_.Remove(ticket);
    if (waiter) serve_pending_ = true;  // the head may have changed
  }
  if (waiter) {
    (*waiter)(absl::CancelledError("the request was cancelled while waiting"));
  }
}

void EtcdLeaseBackend::ServeWaiters() {
  Completions done;
  absl::MutexLock lock(&mu_);
  if (serving_) return;  // the thread serving them looks again
  for (AcquireCallback& expired : waiters_.TakeExpired(clock_->Monotonic())) {
    done.Add(std::move(expired),
             absl::DeadlineExceededError("gave up waiting for ports"));
  }
  if (waiters_.empty()) serve_pending_ = false;  // nobody to wake up for
  serving_ = true;
  while (serve_pending_ && !waiters_.empty()) {
    serve_pending_ = false;
    while (!waiters_.empty()) {
      const uint64_t ticket = waiters_.front().ticket;
      const AcquireParams params = waiters_.front().params;
      // Unlocked: the etcd calls. `serving_` keeps the queue's order.
      mu_.Unlock();
      absl::StatusOr<LeaseRecord> result = Acquire(params);
      mu_.Lock();
      if (absl::IsResourceExhausted(result.status())) break;
      std::optional<AcquireCallback> waiter = waiters_.Remove(ticket);
      if (waiter) {
        done.Add(std::move(*waiter), std::move(result));
      } else if (result.ok()) {
        // Cancelled meanwhile: give the ports back.
        mu_.Unlock();
        (void)Release(result->id, Principal{"", "server"}, 0);
        mu_.Lock();
      }
    }
  }
  if (waiters_.empty()) serve_pending_ = false;
  serving_ = false;
}

}  // namespace portlease::replicated
