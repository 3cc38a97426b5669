#include "testing/time_scale.h"

#include <cstdlib>

#include "absl/strings/numbers.h"

#ifndef PORTLEASE_TEST_TIME_SCALE
#error "PORTLEASE_TEST_TIME_SCALE: set by testing/CMakeLists.txt"
#endif

namespace portlease::testing {

double TimeScale() {
  static const double scale = [] {
    double value = PORTLEASE_TEST_TIME_SCALE;
    if (const char* env = std::getenv("PORTLEASE_TEST_TIME_SCALE");
        env != nullptr && *env != '\0') {
      double parsed = 0;
      if (absl::SimpleAtod(env, &parsed) && parsed >= 1) value = parsed;
    }
    return value < 1 ? 1.0 : value;
  }();
  return scale;
}

absl::Duration Scaled(absl::Duration budget) { return budget * TimeScale(); }

}  // namespace portlease::testing
