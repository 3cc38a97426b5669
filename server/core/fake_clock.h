// FakeClock: a manually advanced Clock for deterministic tests.
#ifndef PORTLEASE_SERVER_CORE_FAKE_CLOCK_H_
#define PORTLEASE_SERVER_CORE_FAKE_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "server/core/clock.h"

namespace portlease {

// Thread-safe. Both clocks move together through Advance(); StepWall()
// moves the wall clock alone.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'800'000'000))
      : wall_(start) {}

  absl::Time Now() override {
    absl::MutexLock l(&mu_);
    return wall_;
  }
  absl::Duration Monotonic() override {
    absl::MutexLock l(&mu_);
    return mono_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock l(&mu_);
    wall_ += d;
    mono_ += d;
  }
  // Steps the wall clock alone (an NTP step, a clock set back).
  void StepWall(absl::Duration d) {
    absl::MutexLock l(&mu_);
    wall_ += d;
  }

 private:
  absl::Mutex mu_;
  absl::Time wall_ ABSL_GUARDED_BY(mu_);
  absl::Duration mono_ ABSL_GUARDED_BY(mu_) = absl::Hours(1);
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_FAKE_CLOCK_H_
