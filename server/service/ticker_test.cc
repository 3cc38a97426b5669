#include "server/service/ticker.h"

#include <atomic>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

TEST(TickerTest, CallsRepeatedly) {
  absl::Mutex mu;
  int calls = 0;
  Ticker ticker(absl::Milliseconds(1), [&] {
    absl::MutexLock lock(&mu);
    ++calls;
  });
  absl::MutexLock lock(&mu);
  auto three = [&calls]() { return calls >= 3; };
  EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&three), absl::Seconds(10)));
}

TEST(TickerTest, StopsPromptlyAndNeverCallsAfterDestruction) {
  std::atomic<int> calls{0};
  const absl::Time start = absl::Now();
  {
    Ticker ticker(absl::Hours(1), [&] { ++calls; });
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(calls.load(), 0);
}

}  // namespace
}  // namespace portlease
