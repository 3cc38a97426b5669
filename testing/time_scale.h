// The suite's one factor for time budgets: 1 in a release build, more under
// sanitizers (set by CMake from PORTLEASE_SANITIZE, see README "The test
// suite"); $PORTLEASE_TEST_TIME_SCALE overrides it. Deadlines and waits in
// tests are multiplied by it; no verdict depends on how fast the machine is.
#ifndef PORTLEASE_TESTING_TIME_SCALE_H_
#define PORTLEASE_TESTING_TIME_SCALE_H_

#include "absl/time/time.h"

namespace portlease::testing {

// The time budget factor (>= 1).
double TimeScale();
// `budget` times TimeScale().
absl::Duration Scaled(absl::Duration budget);

}  // namespace portlease::testing

#endif  // PORTLEASE_TESTING_TIME_SCALE_H_
