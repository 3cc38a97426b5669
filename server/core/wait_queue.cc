#include "server/core/wait_queue.h"

#include <algorithm>

namespace portlease {

void Completions::Run() {
  // An answer may add none here (it runs without the lock), but move the
  // list out first all the same: running is what empties it.
  std::vector<std::pair<AcquireCallback, absl::StatusOr<LeaseRecord>>> run;
  run.swap(pending_);
  for (auto& [done, result] : run) std::move(done)(std::move(result));
}

uint64_t WaitQueue::Push(AcquireParams params, absl::Duration deadline,
                         AcquireCallback done) {
  const uint64_t ticket = next_ticket_++;
  waiters_.push_back(
      Waiter{ticket, std::move(params), deadline, std::move(done)});
  return ticket;
}

AcquireCallback WaitQueue::PopFront() {
  AcquireCallback done = std::move(waiters_.front().done);
  waiters_.pop_front();
  return done;
}

std::optional<AcquireCallback> WaitQueue::Remove(uint64_t ticket) {
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    if (it->ticket != ticket) continue;
    AcquireCallback done = std::move(it->done);
    waiters_.erase(it);
    return done;
  }
  return std::nullopt;
}

std::vector<AcquireCallback> WaitQueue::TakeExpired(absl::Duration now) {
  std::vector<AcquireCallback> expired;
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->deadline > now) {
      ++it;
      continue;
    }
    expired.push_back(std::move(it->done));
    it = waiters_.erase(it);
  }
  return expired;
}

std::vector<AcquireCallback> WaitQueue::TakeAll() {
  std::vector<AcquireCallback> all;
  all.reserve(waiters_.size());
  for (Waiter& w : waiters_) all.push_back(std::move(w.done));
  waiters_.clear();
  return all;
}

absl::Duration WaitQueue::EarliestDeadline() const {
  absl::Duration earliest = absl::InfiniteDuration();
  for (const Waiter& w : waiters_) earliest = std::min(earliest, w.deadline);
  return earliest;
}

}  // namespace portlease
