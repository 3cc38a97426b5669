// LeaseManager's recovery from lost state: the recovery window, in which
// nothing is granted, and Reattach, which re-creates a lease from the
// snapshot its holder kept. The rest of the class is in lease_manager.cc.
#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/core/lease_manager.h"

namespace portlease {
namespace {

using State = PortView::State;

}  // namespace

void LeaseManager::StartRecovery(absl::Duration window, std::string why) {
  if (window <= absl::ZeroDuration()) return;
  absl::MutexLock lock(&mu_);
  recovery_until_ = clock_->Monotonic() + window;
  recovery_why_ = std::move(why);
  reattached_ = 0;
  Emit(LeaseEvent::Type::kRecovering, nullptr, 0,
       absl::StrCat(recovery_why_, "; nothing is granted for ",
                    absl::FormatDuration(window),
                    " while the jobs holding leases re-attach them"));
}

bool LeaseManager::Recovering() {
  absl::MutexLock lock(&mu_);
  CheckRecoveryOver();
  return recovery_until_ > absl::ZeroDuration();
}

void LeaseManager::CheckRecoveryOver() {
  if (recovery_until_ == absl::ZeroDuration() ||
      clock_->Monotonic() < recovery_until_) {
    return;
  }
  recovery_until_ = absl::ZeroDuration();
  serve_pending_ = true;
  Emit(LeaseEvent::Type::kRecovered, nullptr, 0,
       absl::StrCat(reattached_, " lease", reattached_ == 1 ? "" : "s",
                    " re-attached by their holders; granting again"));
}

absl::Status LeaseManager::RecoveringError() const {
  const absl::Duration left = recovery_until_ - clock_->Monotonic();
  const int64_t seconds = std::max<int64_t>(
      1, static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(left))));
  return absl::UnavailableError(absl::StrCat(
      "recovering lost state (", recovery_why_,
      "): nothing is granted while the jobs holding leases re-attach them; "
      "retry in ",
      seconds, "s"));
}

absl::Status LeaseManager::CheckReattachable(const LeaseRecord& snapshot) {
  const absl::string_view id = snapshot.id;
  if (recovery_until_ == absl::ZeroDuration()) {
    return NotReattached(
        id, "leases are re-attached only during a recovery window, after the "
            "server lost its state");
  }
  if (PortsMalformed(snapshot) ||
      (!snapshot.names.empty() && snapshot.names.size() != snapshot.count)) {
    return NotReattached(id, "its ports are malformed");
  }
  AcquireParams shape;
  shape.names = snapshot.names;
  shape.count = snapshot.names.empty() ? snapshot.count : 0;
  shape.owner = snapshot.owner;
  shape.udp = snapshot.udp;
  absl::Status valid = Validate(shape);
  if (!valid.ok()) return NotReattached(id, valid.message());
  for (uint32_t p = snapshot.base; p <= snapshot.last(); ++p) {
    const State state = ports_.state(static_cast<Port>(p));
    // Busy: bound by a process, expected (the holder's job). Anything else
    // is another lease's, or not this server's to grant.
    if (state == State::kFree || state == State::kBusy) continue;
    const char* why = state == State::kLeased     ? "is held by another lease"
                      : state == State::kDraining ? "is draining"
                      : state == State::kQuarantined
                          ? "is cooling down after another lease"
                      : state == State::kDisabled ? "is drained by an administrator"
                                                  : "is outside this server's pool";
    return NotReattached(id, absl::StrCat("port ", p, " ", why));
  }
  return absl::OkStatus();
}

absl::StatusOr<LeaseRecord> LeaseManager::Reattach(const LeaseRecord& snapshot,
                                                   const Principal& by) {
  Completions done;
  absl::StatusOr<LeaseRecord> result;
  {
    absl::MutexLock lock(&mu_);
    Housekeep(&done);
    if (!IsLeaseId(snapshot.id)) {
      result = absl::InvalidArgumentError(
          "a lease snapshot needs its full lease_id (32 lowercase hex)");
    } else if (Entry* known = leases_.FindLive(snapshot.id, /*include_ending=*/true);
               known != nullptr) {
      absl::Status allowed = Authorize(known->record, by, "re-attach");
      result = allowed.ok() ? absl::StatusOr<LeaseRecord>(known->record)
                            : absl::StatusOr<LeaseRecord>(allowed);
    } else if (leases_.Contains(snapshot.id) ||
               pending_ids_.contains(snapshot.id)) {
      result = NotReattached(snapshot.id, "it ended and is draining");
    } else if (absl::Status ok = CheckReattachable(snapshot); !ok.ok()) {
      result = ok;
    } else if (std::vector<Port> claimed =
                   claims_->Claim(snapshot.base, snapshot.count, snapshot.udp);
               !claimed.empty()) {
      MarkClaimedElsewhere(claimed);
      result = NotReattached(
          snapshot.id, absl::StrCat("port ", claimed.front(),
                                    " is claimed by another portleased"));
    } else {
      LeaseRecord record;
      record.id = snapshot.id;
      record.names = snapshot.names;
      record.base = snapshot.base;
      record.count = snapshot.count;
      record.udp = snapshot.udp;
      record.owner = snapshot.owner;
      record.caller = by.id;
      const absl::Time now = clock_->Now();
      record.ttl = rules_.ClampTtl(rules_.GrantTtl(snapshot.ttl));
      record.created_at =
          snapshot.created_at > absl::InfinitePast() && snapshot.created_at <= now
              ? snapshot.created_at
              : now;
      record.expires_at = now + record.ttl;
      record.state = LeaseState::kLive;
      absl::Status committed = store_->PutAudited(
          record, Audit(LeaseEvent::Type::kReattached, &record, &by, 0,
                        absl::StrCat("re-created from its holder's snapshot (",
                                     recovery_why_, ")")));
      if (!committed.ok()) {
        claims_->Unclaim(record.base, record.count);
        Emit(LeaseEvent::Type::kStoreError, &record, 0, committed.ToString(),
             &by);
        result = absl::UnavailableError(absl::StrCat(
            "cannot commit the re-attached lease to the store: ",
            committed.message()));
      } else {
        SetState(record.base, record.count, State::kLeased);
        leases_.CountOwner(record, +1);
        ++reattached_;
        Entry entry;
        entry.record = std::move(record);
        entry.deadline = clock_->Monotonic() + entry.record.ttl;
        const LeaseRecord& reattached = leases_.Insert(std::move(entry)).record;
        Emit(LeaseEvent::Type::kReattached, &reattached, 0,
             absl::StrCat("re-created from its holder's snapshot (",
                          recovery_why_, ")"),
             &by);
        result = reattached;
      }
    }
  }
  done.Run();
  return result;
}

}  // namespace portlease
