// EtcdLeaseBackend's changes of a granted lease: Renew, Release, expiry,
// AttachHolder and DetachHolder. Each reads the record from etcd and
// writes with a Txn guarded by the record's revision, so that it acts on
// exactly the lease it read.
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/replicated/etcd_lease_backend.h"

namespace portlease::replicated {
namespace {

using etcd::Compare;
using etcd::Op;

// Rewrites guarded by a record another call changed first are retried
// this many times.
constexpr int kRewriteAttempts = 3;

bool MaybeApplied(const absl::Status& status) {
  return absl::StrContains(status.message(), "may have been applied");
}

absl::Status Contended(absl::string_view id, absl::string_view verb) {
  return absl::UnavailableError(absl::StrCat(
      "lease ", id.substr(0, 8), "... kept changing while this server tried "
      "to ", verb, " it; retry"));
}

}  // namespace

absl::StatusOr<bool> EtcdLeaseBackend::EndLease(const StoredLease& lease,
                                                const Compare& guard) {
  const LeaseRecord& r = lease.record;
  int64_t cooldown = 0;
  if (options_.quarantine > absl::ZeroDuration()) {
    absl::StatusOr<etcd::LeaseGrantResult> q =
        client_->LeaseGrant(EtcdSeconds(options_.quarantine));
    if (!q.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "cannot end lease ", r.IdPrefix(), "... (etcd): ",
          q.status().message(), "; the lease stays"));
    }
    cooldown = q->id;
  }
  std::vector<Op> ops = {Op::DeleteRange(keys_.PortKey(r.base), keys_.PortEnd(r.last())),
                         Op::DeleteRange(keys_.LeaseKey(r.id))};
  if (!r.request_id.empty()) {
    ops.push_back(Op::DeleteRange(keys_.RequestKey(r.caller, r.request_id)));
  }
  for (uint32_t p = r.base; p <= r.last() && cooldown != 0; ++p) {
    ops.push_back(Op::Put(keys_.QuarantineKey(static_cast<Port>(p)), "", cooldown));
  }
  absl::StatusOr<etcd::TxnResult> txn = client_->Txn({guard}, ops, {});
  bool ended = txn.ok() && txn->succeeded;
  if (!txn.ok() && MaybeApplied(txn.status())) {
    absl::StatusOr<std::optional<StoredLease>> back = ReadLease(r.id);
    ended = back.ok() && (!back->has_value() ||
                          (*back)->record.fencing_token != r.fencing_token);
  }
  if (!ended && cooldown != 0) (void)client_->LeaseRevoke(cooldown);
  if (!txn.ok() && !ended) {
    return absl::UnavailableError(absl::StrCat(
        "cannot end lease ", r.IdPrefix(), "... (etcd): ",
        txn.status().message(), "; the lease stays"));
  }
  if (!ended) return false;
  // Its keys are gone; so is its etcd lease (a hold lease other replicas
  // keep alive too: their next keepalive finds it ended).
  (void)client_->LeaseRevoke(lease.etcd_lease);
  absl::MutexLock lock(&mu_);
  holds_.erase(r.id);
  return true;
}

absl::Status EtcdLeaseBackend::Release(absl::string_view id,
                                       const Principal& by,
                                       uint64_t fencing_token) {
  absl::StatusOr<StoredLease> found =
      FindAuthorized(id, by, "release", fencing_token);
  if (!found.ok()) return found.status();
  // Guarded by the fencing token: whatever renewals or holds changed the
  // record since, this grant of the lease ends, and no later one.
  absl::StatusOr<bool> ended = EndLease(
      *found, Compare::CreateRevision(
                  keys_.LeaseKey(id), Compare::kEqual,
                  static_cast<int64_t>(found->record.fencing_token)));
  if (!ended.ok()) return ended.status();
  if (!*ended) return LeaseNotFound(id);  // ended meanwhile
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> EtcdLeaseBackend::LeaseIdsOf(
    absl::string_view id_prefix, Port port) {
  // From etcd, not the cache: another replica's grant the watch has not
  // brought yet is found too.
  const std::string key =
      id_prefix.empty() ? keys_.PortKey(port) : keys_.LeaseKey(id_prefix);
  absl::StatusOr<etcd::RangeResult> read =
      client_->Range(key, id_prefix.empty() ? "" : etcd::PrefixEnd(key));
  if (!read.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot read etcd: ", read.status().message()));
  }
  std::vector<std::string> ids;
  for (const etcd::KeyValue& kv : read->kvs) {
    ids.push_back(id_prefix.empty() ? kv.value
                                    : kv.key.substr(keys_.LeaseKey("").size()));
  }
  return ids;
}

absl::StatusOr<LeaseRecord> EtcdLeaseBackend::ForceRelease(
    absl::string_view id_prefix, Port port, const Principal& by) {
  if (absl::Status ok = CheckForceReleaseTarget(id_prefix, port); !ok.ok()) {
    return ok;
  }
  absl::StatusOr<std::vector<std::string>> ids = LeaseIdsOf(id_prefix, port);
  if (!ids.ok()) return ids.status();
  std::vector<StoredLease> live;
  for (const std::string& id : *ids) {
    absl::StatusOr<std::optional<StoredLease>> read = ReadLease(id);
    if (!read.ok()) return read.status();
    if (read->has_value() && (*read)->record.expires_at > clock_->Now()) {
      live.push_back(**std::move(read));
    }
  }
  if (absl::Status one = CheckForceReleaseMatches(id_prefix, port, live.size());
      !one.ok()) {
    return one;
  }
  // The grant that was read and no later one: guarded by its fencing token.
  const LeaseRecord& record = live.front().record;
  absl::StatusOr<bool> ended = EndLease(
      live.front(), Compare::CreateRevision(
                        keys_.LeaseKey(record.id), Compare::kEqual,
                        static_cast<int64_t>(record.fencing_token)));
  if (!ended.ok()) return ended.status();
  if (!*ended) return LeaseNotFound(record.id);  // ended meanwhile
  (void)by;  // the service admitted an administrator
  return record;
}

absl::StatusOr<bool> EtcdLeaseBackend::RewriteLease(const LeaseRecord& record,
                                                    int64_t etcd_lease,
                                                    int64_t mod,
                                                    bool move_keys) {
  std::vector<Op> puts = {Op::Put(keys_.LeaseKey(record.id),
                                  EncodeLease(record, etcd_lease), etcd_lease)};
  if (move_keys) {
    for (uint32_t p = record.base; p <= record.last(); ++p) {
      puts.push_back(Op::Put(keys_.PortKey(static_cast<Port>(p)), record.id,
                             etcd_lease));
    }
    if (!record.request_id.empty()) {
      puts.push_back(Op::Put(keys_.RequestKey(record.caller, record.request_id),
                             record.id, etcd_lease));
    }
  }
  absl::StatusOr<etcd::TxnResult> txn = client_->Txn(
      {Compare::ModRevision(keys_.LeaseKey(record.id), Compare::kEqual, mod)},
      puts, {});
  if (txn.ok()) return txn->succeeded;
  if (MaybeApplied(txn.status())) {
    absl::StatusOr<std::optional<StoredLease>> back = ReadLease(record.id);
    if (back.ok() && back->has_value() && (*back)->etcd_lease == etcd_lease &&
        (*back)->record.expires_at == record.expires_at &&
        (*back)->record.held == record.held) {
      return true;
    }
  }
  return absl::UnavailableError(absl::StrCat(
      "cannot write lease ", record.IdPrefix(), "... to etcd: ",
      txn.status().message()));
}

absl::StatusOr<LeaseRecord> EtcdLeaseBackend::Renew(absl::string_view id,
                                                    absl::Duration ttl,
                                                    const Principal& by,
                                                    uint64_t fencing_token) {
  if (absl::Status ok = rules_.CheckTtl(ttl); !ok.ok()) return ok;
  for (int attempt = 0; attempt < kRewriteAttempts; ++attempt) {
    absl::StatusOr<StoredLease> found =
        FindAuthorized(id, by, "renew", fencing_token);
    if (!found.ok()) return found.status();
    LeaseRecord renewed = found->record;
    renewed.ttl = ttl != absl::ZeroDuration() ? ttl : rules_.ClampTtl(renewed.ttl);
    renewed.expires_at = clock_->Now() + renewed.ttl;
    // A held lease stays on its hold lease; another ttl needs another etcd
    // lease for its keys.
    const bool move = !renewed.held &&
                      EtcdSeconds(renewed.ttl) != EtcdSeconds(found->record.ttl);
    int64_t etcd_lease = found->etcd_lease;
    if (move) {
      absl::StatusOr<etcd::LeaseGrantResult> fresh =
          client_->LeaseGrant(EtcdSeconds(renewed.ttl));
      if (!fresh.ok()) {
        return absl::UnavailableError(absl::StrCat(
            "cannot renew in etcd: ", fresh.status().message()));
      }
      etcd_lease = fresh->id;
    } else {
      absl::StatusOr<int64_t> kept = client_->LeaseKeepAliveOnce(etcd_lease);
      if (absl::IsNotFound(kept.status())) return LeaseNotFound(id);
      if (!kept.ok()) {
        return absl::UnavailableError(absl::StrCat(
            "cannot renew in etcd: ", kept.status().message()));
      }
    }
    absl::StatusOr<bool> written =
        RewriteLease(renewed, etcd_lease, found->mod_revision, move);
    // The etcd lease no key is on is revoked; when the outcome is unknown
    // either may hold the keys, and the unused one ends at its TTL.
    if (move && written.ok()) {
      (void)client_->LeaseRevoke(*written ? found->etcd_lease : etcd_lease);
    }
    if (!written.ok()) return written.status();
    if (*written) return renewed;
  }
  return Contended(id, "renew");
}

absl::StatusOr<LeaseRecord> EtcdLeaseBackend::AttachHolder(
    absl::string_view id, const Principal& by) {
  for (int attempt = 0; attempt < kRewriteAttempts; ++attempt) {
    absl::StatusOr<StoredLease> found = FindAuthorized(id, by, "hold");
    if (!found.ok()) return found.status();
    if (found->record.held) {
      // On a hold lease already (attached here or on another replica, or
      // a holder that came back): keep that one alive from here too.
      absl::StatusOr<int64_t> kept =
          client_->LeaseKeepAliveOnce(found->etcd_lease);
      if (absl::IsNotFound(kept.status())) return LeaseNotFound(id);
      if (!kept.ok()) {
        return absl::UnavailableError(absl::StrCat(
            "cannot keep the lease held in etcd: ", kept.status().message()));
      }
    } else {
      absl::StatusOr<etcd::LeaseGrantResult> hold =
          client_->LeaseGrant(EtcdSeconds(options_.rules.hold_grace));
      if (!hold.ok()) {
        return absl::UnavailableError(absl::StrCat(
            "cannot hold the lease in etcd: ", hold.status().message()));
      }
      LeaseRecord held = found->record;
      held.held = true;
      absl::StatusOr<bool> moved =
          RewriteLease(held, hold->id, found->mod_revision, /*move_keys=*/true);
      // As in Renew: nothing is revoked when the outcome is unknown.
      if (!moved.ok()) return moved.status();
      (void)client_->LeaseRevoke(*moved ? found->etcd_lease : hold->id);
      if (!*moved) continue;
      found->record = std::move(held);
      found->etcd_lease = hold->id;
    }
    absl::MutexLock lock(&mu_);
    LocalHold& local = holds_[found->record.id];
    if (local.etcd_lease != found->etcd_lease) local = LocalHold();
    ++local.holders;
    local.etcd_lease = found->etcd_lease;
    return found->record;
  }
  return Contended(id, "hold");
}

void EtcdLeaseBackend::DetachHolder(absl::string_view id) {
  absl::MutexLock lock(&mu_);
  auto it = holds_.find(id);
  if (it == holds_.end()) return;
  // The last one here: stop keeping the hold lease alive. etcd ends the
  // lease one grace later unless a holder attaches (here or elsewhere).
  if (--it->second.holders <= 0) holds_.erase(it);
}

void EtcdLeaseBackend::ExpireDue() {
  std::vector<StoredLease> due;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    for (const auto& [id, stored] : cache_.leases()) {
      if (stored.record.expires_at <= now) due.push_back(stored);
    }
  }
  for (const StoredLease& lease : due) {
    // Guarded by the mod_revision the cache saw: a renewal that came first
    // keeps the lease (and fails this Txn); so does another replica's end.
    (void)EndLease(lease, Compare::ModRevision(keys_.LeaseKey(lease.record.id),
                                               Compare::kEqual,
                                               lease.mod_revision));
  }
}

}  // namespace portlease::replicated
