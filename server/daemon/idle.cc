#include "server/daemon/idle.h"

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "absl/time/clock.h"

namespace portlease {

int WaitForStop(const sigset_t& signals, IdleTracker* idle,
                absl::Duration idle_exit) {
  if (idle == nullptr || idle_exit <= absl::ZeroDuration()) {
    int signal_number = 0;
    while (sigwait(&signals, &signal_number) != 0) {
    }
    return signal_number;
  }
  const absl::Duration step = std::max(
      absl::Milliseconds(50), std::min(absl::Seconds(1), idle_exit / 4));
  const timespec step_spec = absl::ToTimespec(step);
  while (true) {
    const int signal_number = sigtimedwait(&signals, nullptr, &step_spec);
    if (signal_number > 0) return signal_number;
    if (signal_number < 0 && errno != EAGAIN && errno != EINTR) {
      absl::SleepFor(step);  // not expected; keep the check bounded
    }
    if (idle->IdleFor() >= idle_exit) return 0;
  }
}

}  // namespace portlease
