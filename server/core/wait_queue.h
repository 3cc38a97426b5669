// WaitQueue: the requests waiting for ports, first come first served, each
// with a ticket (to cancel it), a monotonic deadline and the callback that
// answers it. Completions: answers collected under the manager's lock and
// run once it is released.
//
// Example:
//   WaitQueue queue;
//   uint64_t ticket = queue.Push(params, deadline, std::move(done));
//   Completions answers;
//   for (auto& expired : queue.TakeExpired(now)) {
//     answers.Add(std::move(expired), absl::DeadlineExceededError("..."));
//   }
//   ...  // the lock released
//   answers.Run();
//
// Not thread-safe: LeaseManager holds its lock around every call.
#ifndef PORTLEASE_SERVER_CORE_WAIT_QUEUE_H_
#define PORTLEASE_SERVER_CORE_WAIT_QUEUE_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/acquire_params.h"
#include "server/core/lease.h"

namespace portlease {

// Answers to run without the lock: Add under it, Run after. Whatever was
// not run yet runs when the object goes away.
class Completions {
 public:
  Completions() = default;
  Completions(const Completions&) = delete;
  Completions& operator=(const Completions&) = delete;
  ~Completions() { Run(); }

  void Add(AcquireCallback done, absl::StatusOr<LeaseRecord> result) {
    pending_.emplace_back(std::move(done), std::move(result));
  }
  // Runs each answer once, in the order added.
  void Run();

 private:
  std::vector<std::pair<AcquireCallback, absl::StatusOr<LeaseRecord>>>
      pending_;
};

class WaitQueue {
 public:
  struct Waiter {
    uint64_t ticket;
    AcquireParams params;
    absl::Duration deadline;  // monotonic
    AcquireCallback done;
  };

  size_t size() const { return waiters_.size(); }
  bool empty() const { return waiters_.empty(); }

  // Queues a request at the back; returns its ticket (never 0).
  uint64_t Push(AcquireParams params, absl::Duration deadline,
                AcquireCallback done);
  // The oldest waiter; the queue must not be empty.
  Waiter& front() { return waiters_.front(); }
  // Removes the oldest waiter and returns its callback.
  AcquireCallback PopFront();
  // Removes the waiter with `ticket` and returns its callback; nullopt when
  // it is not queued (answered already, or never was).
  std::optional<AcquireCallback> Remove(uint64_t ticket);
  // Removes the waiters whose deadline is at or before `now`, oldest
  // first, and returns their callbacks.
  std::vector<AcquireCallback> TakeExpired(absl::Duration now);
  // Removes every waiter and returns their callbacks, oldest first.
  std::vector<AcquireCallback> TakeAll();
  // The earliest deadline of a waiter; infinite when none waits.
  absl::Duration EarliestDeadline() const;

 private:
  std::deque<Waiter> waiters_;
  uint64_t next_ticket_ = 1;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_WAIT_QUEUE_H_
