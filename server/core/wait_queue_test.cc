#include "server/core/wait_queue.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

absl::Duration Secs(int s) { return absl::Seconds(s); }

// Callbacks that record, by name, the answer they got.
class Answers {
 public:
  AcquireCallback Callback(std::string name) {
    return [this, name](absl::StatusOr<LeaseRecord> result) {
      got_.push_back(name + ":" +
                     (result.ok() ? std::string("ok")
                                  : absl::StatusCodeToString(
                                        result.status().code())));
    };
  }
  const std::vector<std::string>& got() const { return got_; }

 private:
  std::vector<std::string> got_;
};

AcquireParams Asking(uint32_t count) {
  AcquireParams params;
  params.count = count;
  return params;
}

TEST(WaitQueueTest, ServesInArrivalOrder) {
  WaitQueue queue;
  Answers answers;
  const uint64_t first = queue.Push(Asking(1), Secs(10), answers.Callback("a"));
  const uint64_t second = queue.Push(Asking(2), Secs(5), answers.Callback("b"));
  EXPECT_NE(first, 0u);
  EXPECT_NE(first, second);
  EXPECT_EQ(queue.size(), 2u);
  EXPECT_EQ(queue.front().ticket, first);
  EXPECT_EQ(queue.front().params.count, 1u);
  queue.PopFront()(LeaseRecord());
  EXPECT_EQ(queue.front().ticket, second);
  queue.PopFront()(absl::DeadlineExceededError(""));
  EXPECT_TRUE(queue.empty());
  EXPECT_THAT(answers.got(), ElementsAre("a:ok", "b:DEADLINE_EXCEEDED"));
}

TEST(WaitQueueTest, RemovesByTicketOnce) {
  WaitQueue queue;
  Answers answers;
  queue.Push(Asking(1), Secs(10), answers.Callback("a"));
  const uint64_t b = queue.Push(Asking(1), Secs(10), answers.Callback("b"));
  std::optional<AcquireCallback> removed = queue.Remove(b);
  ASSERT_TRUE(removed.has_value());
  (*removed)(absl::CancelledError(""));
  EXPECT_FALSE(queue.Remove(b).has_value());
  EXPECT_FALSE(queue.Remove(12345).has_value());
  EXPECT_EQ(queue.size(), 1u);
  EXPECT_THAT(answers.got(), ElementsAre("b:CANCELLED"));
}

TEST(WaitQueueTest, TakesTheExpiredWhereverTheyWait) {
  WaitQueue queue;
  Answers answers;
  queue.Push(Asking(1), Secs(10), answers.Callback("a"));
  queue.Push(Asking(1), Secs(3), answers.Callback("b"));
  queue.Push(Asking(1), Secs(3), answers.Callback("c"));
  EXPECT_EQ(queue.EarliestDeadline(), Secs(3));
  EXPECT_THAT(queue.TakeExpired(Secs(2)), IsEmpty());
  for (AcquireCallback& done : queue.TakeExpired(Secs(3))) {
    done(absl::DeadlineExceededError(""));
  }
  EXPECT_THAT(answers.got(),
              ElementsAre("b:DEADLINE_EXCEEDED", "c:DEADLINE_EXCEEDED"));
  EXPECT_EQ(queue.size(), 1u);
  EXPECT_EQ(queue.EarliestDeadline(), Secs(10));
  for (AcquireCallback& done : queue.TakeAll()) done(absl::UnavailableError(""));
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.EarliestDeadline(), absl::InfiniteDuration());
}

TEST(CompletionsTest, RunsEachAnswerOnceInOrder) {
  Answers answers;
  {
    Completions completions;
    completions.Add(answers.Callback("a"), LeaseRecord());
    completions.Add(answers.Callback("b"), absl::NotFoundError(""));
    completions.Run();
    completions.Run();
    EXPECT_THAT(answers.got(), ElementsAre("a:ok", "b:NOT_FOUND"));
    completions.Add(answers.Callback("c"), LeaseRecord());
  }  // what was left runs when it goes away
  EXPECT_THAT(answers.got(), ElementsAre("a:ok", "b:NOT_FOUND", "c:ok"));
}

}  // namespace
}  // namespace portlease
