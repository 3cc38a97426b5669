// The chaos test's checker (chaos_checker.h) on hand-written logs: a clean
// history passes; a double-held port, a lost lease, a fencing token out of
// order, an unclear failure and a garbled line are each flagged.
#include "tests/server/replicated/chaos_checker.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portlease::chaos {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const std::string kA(32, 'a');
const std::string kB(32, 'b');
const std::string kC(32, 'c');

// `ms` milliseconds after a fixed instant.
absl::Time T(int ms) {
  return absl::FromUnixSeconds(1700000000) + absl::Milliseconds(ms);
}

std::string Log(const std::vector<std::string>& lines) {
  return absl::StrJoin(lines, "\n") + "\n";
}

TEST(ChaosCheckerTest, ACleanHistoryPasses) {
  // Client 0: A on 20000-20001, renewed, released. Then C on 20001, granted
  // after A's release was sent; its renew comes after its expiry (not a
  // loss) and its release retry after a lost answer finds it gone.
  const std::string client0 = Log({
      FormatFailed(T(0), T(10), "acquire", "r1",
                   absl::UnavailableError("no replica answered")),
      FormatAcquired(T(20), T(30), kA, "r1", 20000, 2, 100, T(3030)),
      FormatRenewed(T(1000), T(1010), kA, T(4010)),
      FormatReleased(T(2000), T(2010), kA),
      FormatAcquired(T(2005), T(2100), kC, "r3", 20001, 1, 130, T(3100)),
      FormatFailed(T(3000), T(3200), "renew", kC,
                   absl::NotFoundError("lease ccccccc... not found")),
      FormatFailed(T(3300), T(3400), "release", kC,
                   absl::NotFoundError("lease ccccccc... not found")),
  });
  // Client 1: B on 20002, failures that are clear, a release that timed
  // out and was retried (NOT_FOUND: the first attempt had released it).
  const std::string client1 = Log({
      FormatAcquired(T(5), T(40), kB, "r2", 20002, 1, 101, T(3040)),
      FormatFailed(T(100), T(120), "acquire", "r4",
                   absl::ResourceExhaustedError("the pool cannot serve 5")),
      FormatFailed(T(500), T(2500), "release", kB,
                   absl::DeadlineExceededError("Deadline Exceeded")),
      FormatFailed(T(2600), T(2610), "release", kB,
                   absl::NotFoundError("lease bbbbbbbb... not found")),
  });
  const ChaosCheck check = CheckChaosLogs({client0, client1});
  EXPECT_TRUE(check.ok()) << check.Violations();
  EXPECT_EQ(check.calls, 11);
  EXPECT_EQ(check.acks, 5);
  EXPECT_EQ(check.leases, 3);
  EXPECT_EQ(check.ports_checked, 3);
  EXPECT_EQ(check.expired_answers, 2);  // C's renew and release
  EXPECT_EQ(check.failures.at("NOT_FOUND"), 3);
  EXPECT_EQ(check.failures.at("UNAVAILABLE"), 1);
  EXPECT_THAT(check.Summary(), HasSubstr("overlaps=0 losses=0"));
}

TEST(ChaosCheckerTest, APortHeldByTwoLeasesAtOnceIsAnOverlap) {
  // A holds 20000-20002 until 3030 (never released); B is granted 20002 at
  // 2000 through another client.
  const std::string client0 = Log({
      FormatAcquired(T(0), T(30), kA, "r1", 20000, 3, 100, T(3030)),
  });
  const std::string client1 = Log({
      FormatAcquired(T(1900), T(2000), kB, "r2", 20002, 2, 140, T(5000)),
  });
  const ChaosCheck check = CheckChaosLogs({client0, client1});
  ASSERT_THAT(check.overlaps, SizeIs(1)) << check.Violations();
  EXPECT_THAT(check.overlaps[0], HasSubstr("port 20002: lease aaaaaaaa"));
  EXPECT_THAT(check.overlaps[0], HasSubstr("lease bbbbbbbb"));
  EXPECT_FALSE(check.ok());

  // The same, but A's renewal is what still covers the port at 2000; and
  // a release sent before B was granted would have ended A in time.
  const ChaosCheck renewed = CheckChaosLogs(
      {Log({FormatAcquired(T(0), T(30), kA, "r1", 20000, 3, 100, T(1500)),
            FormatRenewed(T(1000), T(1010), kA, T(4000))}),
       client1});
  EXPECT_THAT(renewed.overlaps, SizeIs(1));
  const ChaosCheck released = CheckChaosLogs(
      {Log({FormatAcquired(T(0), T(30), kA, "r1", 20000, 3, 100, T(3030)),
            FormatReleased(T(1950), T(2100), kA)}),
       client1});
  EXPECT_THAT(released.overlaps, IsEmpty()) << released.Violations();
  // A failed Acquire has no ports in the log: it overlaps nothing.
  const ChaosCheck unacknowledged = CheckChaosLogs(
      {Log({FormatFailed(T(0), T(2000), "acquire", "r1",
                         absl::DeadlineExceededError("Deadline Exceeded"))}),
       client1});
  EXPECT_TRUE(unacknowledged.ok()) << unacknowledged.Violations();
}

TEST(ChaosCheckerTest, ALeaseEndedBeforeItsAcknowledgedExpiryIsALoss) {
  // A was renewed until 4010; its next renew is answered NOT_FOUND at
  // 2010, and a release of B is answered NOT_FOUND before B's expiry.
  const ChaosCheck check = CheckChaosLogs({Log({
      FormatAcquired(T(0), T(10), kA, "r1", 20000, 1, 100, T(3010)),
      FormatRenewed(T(1000), T(1010), kA, T(4010)),
      FormatFailed(T(2000), T(2010), "renew", kA,
                   absl::NotFoundError("lease aaaaaaaa... not found")),
      FormatAcquired(T(2100), T(2110), kB, "r2", 20001, 1, 120, T(5110)),
      FormatFailed(T(2200), T(2210), "release", kB,
                   absl::FailedPreconditionError("the lease has ended")),
  })});
  EXPECT_THAT(check.losses,
              ElementsAre(HasSubstr("lease aaaaaaaa of client 0: renew"),
                          HasSubstr("lease bbbbbbbb of client 0: release")));
  EXPECT_EQ(check.expired_answers, 0);
  EXPECT_FALSE(check.ok());
}

TEST(ChaosCheckerTest, FencingOrderUnclearFailuresAndGarbleAreFlagged) {
  const ChaosCheck check = CheckChaosLogs({Log({
      // A's grant was answered before B's request was sent, on a shared
      // port, yet B's token is lower.
      FormatAcquired(T(0), T(10), kA, "r1", 20000, 2, 500, T(1000)),
      FormatReleased(T(500), T(510), kA),
      FormatAcquired(T(600), T(610), kB, "r2", 20001, 1, 400, T(1600)),
      // One request answered with two leases.
      FormatAcquired(T(700), T(710), kC, "r2", 20010, 1, 600, T(1700)),
      FormatFailed(T(800), T(810), "release", kC, absl::UnknownError("")),
      FormatFailed(T(900), T(910), "renew", kC, absl::InternalError("")),
      "12 13 GRANTED " + kA,
  })});
  EXPECT_THAT(check.fencing,
              ElementsAre(HasSubstr("answered with two leases"),
                          HasSubstr("lower or equal token 400")));
  EXPECT_THAT(check.unclear, SizeIs(2));
  EXPECT_THAT(check.malformed, ElementsAre(HasSubstr("line 7")));
  EXPECT_THAT(check.overlaps, IsEmpty());
}

}  // namespace
}  // namespace portlease::chaos
