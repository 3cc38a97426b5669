// LeaseTable: the leases a LeaseManager knows, live and draining, and the
// indexes it finds them by: by id, by port (each lease's block, by base
// port), by (caller, request_id) for retries, by expiry, by the end of the
// grace after the last holder left, by the next probe of a draining lease;
// and what each caller holds (its share, for the per-caller limits).
//
// Example:
//   LeaseTable leases(/*count_owners=*/true);
//   LeaseTable::Entry entry;
//   entry.record = granted;             // state kLive
//   entry.deadline = now + granted.ttl;
//   leases.Insert(std::move(entry));
//   LeaseTable::Entry* found = leases.FindByPort(granted.base + 1);
//   std::optional<std::string> due = leases.FirstExpired(later);
//
// Not thread-safe: LeaseManager holds its lock around every call. Pointers
// to entries stay valid until the next Insert or Erase.
#ifndef PORTLEASE_SERVER_CORE_LEASE_TABLE_H_
#define PORTLEASE_SERVER_CORE_LEASE_TABLE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/core/lease.h"
#include "server/core/request_rules.h"

namespace portlease {

class LeaseTable {
 public:
  struct Entry {
    LeaseRecord record;
    absl::Duration deadline;  // monotonic expiry (live only)
    int holders = 0;          // Hold streams attached
    // When the lease is reclaimed for want of a holder; infinite while one
    // is attached (or none ever was).
    absl::Duration grace_deadline = absl::InfiniteDuration();
    absl::Duration next_probe = absl::ZeroDuration();  // draining only
    // A Release is committing its end without the lock (see BeginEnding).
    bool ending = false;
  };

  // With `count_owners` false, Share() is always empty (no per-caller
  // limit to check, nothing to count).
  explicit LeaseTable(bool count_owners) : count_owners_(count_owners) {}

  LeaseTable(const LeaseTable&) = delete;
  LeaseTable& operator=(const LeaseTable&) = delete;

  // Lookups. nullptr when none matches.
  //
  // Any lease, live or draining.
  Entry* Find(absl::string_view id);
  bool Contains(absl::string_view id) const { return leases_.contains(id); }
  // A live lease; one a Release is ending only with `include_ending`.
  Entry* FindLive(absl::string_view id, bool include_ending = false);
  // The lease, live or draining, whose block holds `port`.
  Entry* FindByPort(Port port);
  // The live lease `caller` got with `request_id` (not empty).
  const Entry* FindByRequest(absl::string_view caller,
                             absl::string_view request_id) const;
  // The ids of the live leases (not ending) that start with `prefix`.
  std::vector<std::string> LiveIdsWithPrefix(absl::string_view prefix) const;
  // Calls `visit` on each lease, live and draining, by base port from
  // `from` on, until it returns false.
  void ForEachFrom(Port from,
                   absl::FunctionRef<bool(const LeaseRecord&)> visit) const;

  // Live leases (including those a Release is ending) and draining ones.
  uint32_t live() const { return live_; }
  uint32_t draining() const {
    return static_cast<uint32_t>(leases_.size()) - live_;
  }

  // Changes.
  //
  // Adds a lease not yet in the table, indexed for its state: a live one
  // by expiry (entry.deadline), request id and grace (when
  // entry.grace_deadline is finite); a draining one by entry.next_probe.
  Entry& Insert(Entry entry);
  // Removes a lease and its indexes; returns its record.
  LeaseRecord Erase(absl::string_view id);
  // A live lease ended with its ports still bound: draining from now,
  // holders and grace dropped, probed at `next_probe`.
  void MakeDraining(Entry* entry, absl::Duration next_probe);
  // A draining lease's next probe.
  void SetNextProbe(Entry* entry, absl::Duration next_probe);
  // A live lease's new expiry (renewed).
  void SetDeadline(Entry* entry, absl::Duration deadline);
  // A live lease's grace deadline (infinite: a holder is attached).
  void SetGrace(Entry* entry, absl::Duration grace_deadline);
  // A Release commits the end of `entry` without the lock: until
  // FinishEnding the lease is out of the expiry and grace indexes and
  // FindLive does not see it (unless asked to), so nothing else ends it.
  void BeginEnding(Entry* entry);
  // The commit answered: when it failed (`ended` false) the lease is
  // indexed again as it was.
  void FinishEnding(Entry* entry, bool ended);

  // Due work at monotonic `now`: the first expired lease, the first whose
  // grace is over, the draining leases due for a probe.
  std::optional<std::string> FirstExpired(absl::Duration now) const;
  std::optional<std::string> FirstGraceOver(absl::Duration now) const;
  std::vector<std::string> DrainsDue(absl::Duration now) const;
  // The earliest of those deadlines; infinite when none.
  absl::Duration NextDue() const;

  // Callers' shares: the leases and ports `caller` holds. The manager
  // counts a grant before it commits (CountOwner +1) and gives it back if
  // the commit fails, so a share also covers grants being committed.
  OwnerShare Share(const std::string& caller) const;
  void CountOwner(const LeaseRecord& record, int delta);

 private:
  using Deadlines = std::set<std::pair<absl::Duration, std::string>>;
  using RequestKey = std::pair<std::string, std::string>;

  void Index(Entry* entry);
  void Unindex(const Entry& entry);
  static std::optional<std::string> FirstDue(const Deadlines& set,
                                             absl::Duration now);

  const bool count_owners_;
  absl::flat_hash_map<std::string, Entry> leases_;
  std::map<Port, std::string> by_base_;
  // Live leases by (caller, request_id): idempotency keys are the caller's.
  absl::flat_hash_map<RequestKey, std::string> by_request_id_;
  Deadlines expiry_;       // live leases by deadline
  Deadlines grace_;        // live leases whose last holder left
  Deadlines drain_queue_;  // draining leases by next probe
  // Only callers with at least one lease (or grant being committed).
  absl::flat_hash_map<std::string, OwnerShare> shares_;
  uint32_t live_ = 0;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_LEASE_TABLE_H_
