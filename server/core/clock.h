// Clock: the source of time for the lease core.
//
// Expiry runs on the monotonic clock (immune to wall-clock steps); the wall
// clock is only used for what leaves the process (expires_at on the wire and
// in the store). Tests use FakeClock (fake_clock.h) and never sleep.
#ifndef PORTLEASE_SERVER_CORE_CLOCK_H_
#define PORTLEASE_SERVER_CORE_CLOCK_H_

#include "absl/time/time.h"

namespace portlease {

// Thread-safe implementations only.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time.
  virtual absl::Time Now() = 0;
  // Monotonic time since an arbitrary, fixed origin.
  virtual absl::Duration Monotonic() = 0;
};

// The system clocks (CLOCK_REALTIME and CLOCK_MONOTONIC).
class RealClock : public Clock {
 public:
  absl::Time Now() override;
  absl::Duration Monotonic() override;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_CLOCK_H_
