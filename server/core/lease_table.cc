#include "server/core/lease_table.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"

namespace portlease {

LeaseTable::Entry* LeaseTable::Find(absl::string_view id) {
  auto it = leases_.find(id);
  return it == leases_.end() ? nullptr : &it->second;
}

LeaseTable::Entry* LeaseTable::FindLive(absl::string_view id,
                                        bool include_ending) {
  Entry* entry = Find(id);
  if (entry == nullptr || entry->record.state != LeaseState::kLive ||
      (entry->ending && !include_ending)) {
    return nullptr;
  }
  return entry;
}

LeaseTable::Entry* LeaseTable::FindByPort(Port port) {
  auto it = by_base_.upper_bound(port);
  if (it == by_base_.begin()) return nullptr;
  --it;
  Entry& entry = leases_.at(it->second);
  return port <= entry.record.last() ? &entry : nullptr;
}

const LeaseTable::Entry* LeaseTable::FindByRequest(
    absl::string_view caller, absl::string_view request_id) const {
  auto it = by_request_id_.find(
      RequestKey(std::string(caller), std::string(request_id)));
  if (it == by_request_id_.end()) return nullptr;
  return &leases_.at(it->second);
}

std::vector<std::string> LeaseTable::LiveIdsWithPrefix(
    absl::string_view prefix) const {
  std::vector<std::string> ids;
  for (const auto& [id, entry] : leases_) {
    if (entry.record.state == LeaseState::kLive && !entry.ending &&
        absl::StartsWith(id, prefix)) {
      ids.push_back(id);
    }
  }
  return ids;
}

void LeaseTable::ForEachFrom(
    Port from, absl::FunctionRef<bool(const LeaseRecord&)> visit) const {
  for (auto it = by_base_.lower_bound(from); it != by_base_.end(); ++it) {
    if (!visit(leases_.at(it->second).record)) return;
  }
}

LeaseTable::Entry& LeaseTable::Insert(Entry entry) {
  const std::string id = entry.record.id;
  Entry& stored = leases_[id] = std::move(entry);
  if (stored.record.state == LeaseState::kLive) ++live_;
  Index(&stored);
  return stored;
}

LeaseRecord LeaseTable::Erase(absl::string_view id) {
  auto it = leases_.find(id);
  Unindex(it->second);
  if (it->second.record.state == LeaseState::kLive) --live_;
  LeaseRecord record = std::move(it->second.record);
  leases_.erase(it);
  return record;
}

void LeaseTable::MakeDraining(Entry* entry, absl::Duration next_probe) {
  Unindex(*entry);
  if (entry->record.state == LeaseState::kLive) --live_;
  entry->record.state = LeaseState::kDraining;
  entry->holders = 0;
  entry->grace_deadline = absl::InfiniteDuration();
  entry->ending = false;
  entry->next_probe = next_probe;
  Index(entry);
}

void LeaseTable::SetNextProbe(Entry* entry, absl::Duration next_probe) {
  drain_queue_.erase({entry->next_probe, entry->record.id});
  entry->next_probe = next_probe;
  drain_queue_.emplace(next_probe, entry->record.id);
}

void LeaseTable::SetDeadline(Entry* entry, absl::Duration deadline) {
  expiry_.erase({entry->deadline, entry->record.id});
  entry->deadline = deadline;
  expiry_.emplace(deadline, entry->record.id);
}

void LeaseTable::SetGrace(Entry* entry, absl::Duration grace_deadline) {
  grace_.erase({entry->grace_deadline, entry->record.id});
  entry->grace_deadline = grace_deadline;
  // An ending lease is out of the indexes; FinishEnding puts it back.
  if (grace_deadline != absl::InfiniteDuration() && !entry->ending) {
    grace_.emplace(grace_deadline, entry->record.id);
  }
}

void LeaseTable::BeginEnding(Entry* entry) {
  entry->ending = true;
  expiry_.erase({entry->deadline, entry->record.id});
  grace_.erase({entry->grace_deadline, entry->record.id});
}

void LeaseTable::FinishEnding(Entry* entry, bool ended) {
  entry->ending = false;
  if (ended) return;
  expiry_.emplace(entry->deadline, entry->record.id);
  if (entry->grace_deadline != absl::InfiniteDuration()) {
    grace_.emplace(entry->grace_deadline, entry->record.id);
  }
}

std::optional<std::string> LeaseTable::FirstDue(const Deadlines& set,
                                                absl::Duration now) {
  if (set.empty() || set.begin()->first > now) return std::nullopt;
  return set.begin()->second;
}

std::optional<std::string> LeaseTable::FirstExpired(absl::Duration now) const {
  return FirstDue(expiry_, now);
}

std::optional<std::string> LeaseTable::FirstGraceOver(
    absl::Duration now) const {
  return FirstDue(grace_, now);
}

std::vector<std::string> LeaseTable::DrainsDue(absl::Duration now) const {
  std::vector<std::string> due;
  for (auto it = drain_queue_.begin();
       it != drain_queue_.end() && it->first <= now; ++it) {
    due.push_back(it->second);
  }
  return due;
}

absl::Duration LeaseTable::NextDue() const {
  absl::Duration due = absl::InfiniteDuration();
  for (const Deadlines* set : {&expiry_, &grace_, &drain_queue_}) {
    if (!set->empty()) due = std::min(due, set->begin()->first);
  }
  return due;
}

OwnerShare LeaseTable::Share(const std::string& caller) const {
  auto it = shares_.find(caller);
  return it == shares_.end() ? OwnerShare{} : it->second;
}

void LeaseTable::CountOwner(const LeaseRecord& record, int delta) {
  if (!count_owners_ || record.caller.empty()) return;
  if (delta > 0) {
    OwnerShare& share = shares_[record.caller];
    ++share.leases;
    share.ports += record.count;
    return;
  }
  auto it = shares_.find(record.caller);
  if (it == shares_.end()) return;
  --it->second.leases;
  it->second.ports -= std::min(it->second.ports, record.count);
  if (it->second.leases == 0) shares_.erase(it);
}

void LeaseTable::Index(Entry* entry) {
  const LeaseRecord& r = entry->record;
  by_base_[r.base] = r.id;
  if (r.state != LeaseState::kLive) {
    drain_queue_.emplace(entry->next_probe, r.id);
    return;
  }
  if (!r.request_id.empty()) by_request_id_[{r.caller, r.request_id}] = r.id;
  if (entry->ending) return;
  expiry_.emplace(entry->deadline, r.id);
  if (entry->grace_deadline != absl::InfiniteDuration()) {
    grace_.emplace(entry->grace_deadline, r.id);
  }
}

void LeaseTable::Unindex(const Entry& entry) {
  const LeaseRecord& r = entry.record;
  by_base_.erase(r.base);
  expiry_.erase({entry.deadline, r.id});
  grace_.erase({entry.grace_deadline, r.id});
  drain_queue_.erase({entry.next_probe, r.id});
  auto it = by_request_id_.find(RequestKey(r.caller, r.request_id));
  if (it != by_request_id_.end() && it->second == r.id) by_request_id_.erase(it);
}

}  // namespace portlease
