#include "testing/poll_until.h"

#include "absl/time/clock.h"
#include "testing/time_scale.h"

namespace portlease::testing {

bool PollUntil(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time end = absl::Now() + Scaled(timeout);
  while (!condition()) {
    if (absl::Now() >= end) return condition();
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

}  // namespace portlease::testing
