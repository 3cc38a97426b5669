// SignalWatch on real signals sent to this process: the handler runs once,
// on the first signal; signals after Stop() stay pending for the next
// taker (SuperviseChild forwards them to the command).
#include "cli_common/signal_watch.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

// Waits up to 10 s for `done`.
template <typename Predicate>
bool WaitFor(Predicate done) {
  const absl::Time end = absl::Now() + absl::Seconds(10);
  while (!done()) {
    if (absl::Now() >= end) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

TEST(SignalWatchTest, TheFirstSignalRunsTheHandlerOnce) {
  BlockCancelSignals();
  std::atomic<int> calls{0};
  SignalWatch watch;
  watch.OnSignal([&calls] { ++calls; });
  ASSERT_EQ(kill(getpid(), SIGHUP), 0);
  ASSERT_TRUE(WaitFor([&] { return watch.signal() != 0; }));
  EXPECT_EQ(watch.signal(), SIGHUP);
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);  // recorded only
  ASSERT_TRUE(WaitFor([&] {
    sigset_t pending;
    sigpending(&pending);
    return sigismember(&pending, SIGTERM) == 0;
  }));
  watch.Stop();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(watch.signal(), SIGHUP);
}

TEST(SignalWatchTest, ASignalAfterStopStaysPending) {
  BlockCancelSignals();
  SignalWatch watch;
  watch.OnSignal([] {});
  watch.Stop();
  ASSERT_EQ(kill(getpid(), SIGINT), 0);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  const struct timespec wait = {10, 0};
  EXPECT_EQ(sigtimedwait(&set, nullptr, &wait), SIGINT);
  EXPECT_EQ(watch.signal(), 0);
}

}  // namespace
}  // namespace portlease
