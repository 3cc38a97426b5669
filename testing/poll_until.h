// PollUntil: bounded polling, for state that another thread or process
// changes without telling the test (a waiter queued, a child exited, a
// socket closed).
//
//   ASSERT_TRUE(testing::PollUntil([&] { return LeaseCount() == 0; },
//                                  absl::Seconds(5)));
#ifndef PORTLEASE_TESTING_POLL_UNTIL_H_
#define PORTLEASE_TESTING_POLL_UNTIL_H_

#include <functional>

#include "absl/time/time.h"

namespace portlease::testing {

// Calls `condition` every 5 ms until it returns true or `timeout` times the
// suite's time factor (testing/time_scale.h) passes. Returns true as soon as
// `condition` does; false when it still fails at the end (it is called once
// more then).
bool PollUntil(const std::function<bool()>& condition, absl::Duration timeout);

}  // namespace portlease::testing

#endif  // PORTLEASE_TESTING_POLL_UNTIL_H_
