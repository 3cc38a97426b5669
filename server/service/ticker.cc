#include "server/service/ticker.h"

#include <utility>

namespace portlease {

Ticker::Ticker(absl::Duration interval, absl::AnyInvocable<void()> fn)
    : interval_(interval), fn_(std::move(fn)), thread_([this] { Run(); }) {}

Ticker::~Ticker() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void Ticker::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      // Wakes early only to stop.
      mu_.AwaitWithTimeout(absl::Condition(&stop_), interval_);
      if (stop_) return;
    }
    fn_();
  }
}

}  // namespace portlease
