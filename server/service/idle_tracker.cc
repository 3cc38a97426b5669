#include "server/service/idle_tracker.h"

#include <utility>

namespace portlease {

IdleTracker::IdleTracker(Clock* clock, std::function<uint32_t()> live_leases)
    : clock_(clock),
      live_leases_(std::move(live_leases)),
      last_busy_(clock->Monotonic()) {}

void IdleTracker::CallStarted() {
  absl::MutexLock lock(&mu_);
  ++in_flight_;
  last_busy_ = clock_->Monotonic();
}

void IdleTracker::CallEnded() {
  absl::MutexLock lock(&mu_);
  if (in_flight_ > 0) --in_flight_;
  last_busy_ = clock_->Monotonic();
}

absl::Duration IdleTracker::IdleFor() {
  // Read before taking mu_: the manager has its own lock.
  const uint32_t live = live_leases_ ? live_leases_() : 0;
  const absl::Duration now = clock_->Monotonic();
  absl::MutexLock lock(&mu_);
  if (in_flight_ > 0 || live > 0) {
    last_busy_ = now;
    return absl::ZeroDuration();
  }
  return now > last_busy_ ? now - last_busy_ : absl::ZeroDuration();
}

uint32_t IdleTracker::calls_in_flight() {
  absl::MutexLock lock(&mu_);
  return in_flight_;
}

}  // namespace portlease
