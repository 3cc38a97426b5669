#include "server/core/clock.h"

#include <time.h>

#include "absl/time/clock.h"

namespace portlease {

absl::Time RealClock::Now() { return absl::Now(); }

absl::Duration RealClock::Monotonic() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::DurationFromTimespec(ts);
}

}  // namespace portlease
