#include "server/portserver/portserver_leases.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/portserver/test_manager.h"
#include "testing/temp_dir.h"

namespace portlease {
namespace {

using ::testing::Contains;
using ::testing::Pair;

TEST(ParsePidRequestTest, ReadsThePidAsGooglesPortserverDoes) {
  EXPECT_EQ(*ParsePidRequest("4242\n"), 4242);
  EXPECT_EQ(*ParsePidRequest(" +17 \r\n"), 17);
  EXPECT_EQ(*ParsePidRequest("1_000\n"), 1000);
  EXPECT_EQ(*ParsePidRequest("1\n"), 1);  // refused later, as init
  for (const char* bad :
       {"", "\n", "x\n", "12x\n", "0\n", "-5\n", "1__0\n", "_1\n", "1 2\n",
        "99999999999\n", "123456789012345678901"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParsePidRequest(bad).status()))
        << bad;
  }
  // 20 bytes, the newline included, is the most.
  EXPECT_TRUE(ParsePidRequest("0000000000000000042\n").ok());
  EXPECT_FALSE(ParsePidRequest("00000000000000000042\n").ok());
}

class PortserverLeasesTest : public ::testing::Test {
 protected:
  PortserverLeasesTest() {
    processes_.Set(
        FakeProcess(4242, 100, 1000, false, "python3 -m pytest"));
    processes_.Set(FakeProcess(1, 1, 0));
  }

  PortserverLeases Leases() {
    return PortserverLeases({.manager = manager_.get(),
                             .processes = &processes_,
                             .ttl = absl::Hours(1),
                             .host = "ci-host"});
  }

  std::vector<LeaseRecord> Live() { return manager_.get()->List({}); }

  testing::TempDir dir_;
  TestManager manager_{dir_.File("leases.db")};
  FakeProcessTable processes_;
  const PortserverPeer alice_{.pid = 4242, .uid = 1000};
};

TEST_F(PortserverLeasesTest, GrantsAOnePortLeaseWithTheOwnerKeys) {
  absl::StatusOr<Port> port = Leases().Grant("4242\n", alice_);
  ASSERT_TRUE(port.ok()) << port.status();
  std::vector<LeaseRecord> leases = Live();
  ASSERT_EQ(leases.size(), 1u);
  const LeaseRecord& lease = leases[0];
  EXPECT_EQ(lease.base, *port);
  EXPECT_EQ(lease.count, 1u);
  EXPECT_EQ(lease.ttl, absl::Hours(1));
  EXPECT_EQ(lease.caller, "uid:1000");
  EXPECT_THAT(lease.owner, Contains(Pair("client", "portserver")));
  EXPECT_THAT(lease.owner, Contains(Pair("pid", "4242")));
  EXPECT_THAT(lease.owner, Contains(Pair("pid_start", "100")));
  EXPECT_THAT(lease.owner, Contains(Pair("peer_uid", "1000")));
  EXPECT_THAT(lease.owner, Contains(Pair("peer_pid", "4242")));
  EXPECT_THAT(lease.owner, Contains(Pair("host", "ci-host")));
  EXPECT_THAT(lease.owner, Contains(Pair("command", "python3 -m pytest")));
  // A second request is a second port, as with Google's portserver.
  absl::StatusOr<Port> second = Leases().Grant("4242\n", alice_);
  ASSERT_TRUE(second.ok());
  EXPECT_NE(*second, *port);
}

TEST_F(PortserverLeasesTest, RefusesBadPidsInitAndMissingProcesses) {
  PortserverLeases leases = Leases();
  EXPECT_TRUE(absl::IsInvalidArgument(leases.Grant("abc\n", alice_).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(leases.Grant("-1\n", alice_).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(leases.Grant("1\n", alice_).status()));
  EXPECT_TRUE(absl::IsNotFound(leases.Grant("5555\n", alice_).status()));
  processes_.Set(FakeProcess(5555, 1, 1000, /*exited=*/true));
  EXPECT_TRUE(absl::IsNotFound(leases.Grant("5555\n", alice_).status()));
  EXPECT_TRUE(Live().empty());
}

TEST_F(PortserverLeasesTest, RefusesAnotherUsersProcessUnlessRoot) {
  processes_.Set(FakeProcess(7777, 5, 2000));
  EXPECT_TRUE(absl::IsPermissionDenied(
      Leases().Grant("7777\n", alice_).status()));
  EXPECT_TRUE(Live().empty());
  absl::StatusOr<Port> port = Leases().Grant("7777\n", {.pid = 1, .uid = 0});
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_EQ(Live().at(0).caller, "uid:0");
}

TEST_F(PortserverLeasesTest, TheLeaseEndsWithItsProcess) {
  PortserverLeases leases = Leases();
  ASSERT_TRUE(leases.Grant("4242\n", alice_).ok());
  EXPECT_EQ(leases.ReleaseExited(), 0);
  EXPECT_EQ(Live().size(), 1u);
  processes_.Remove(4242);
  EXPECT_EQ(leases.ReleaseExited(), 1);
  EXPECT_TRUE(Live().empty());
}

TEST_F(PortserverLeasesTest, AReusedPidDoesNotKeepTheLease) {
  PortserverLeases leases = Leases();
  ASSERT_TRUE(leases.Grant("4242\n", alice_).ok());
  processes_.Set(FakeProcess(4242, 101));
  EXPECT_EQ(leases.ReleaseExited(), 1);
  EXPECT_TRUE(Live().empty());
}

TEST_F(PortserverLeasesTest, OtherLeasesAreLeftAlone) {
  AcquireParams params;
  params.count = 1;
  params.owner = {{"pid", "9"}, {"pid_start", "1"}};
  params.caller = {"uid:1000", ""};
  ASSERT_TRUE(manager_.get()->Acquire(params).ok());
  EXPECT_EQ(Leases().ReleaseExited(), 0);
  EXPECT_EQ(Live().size(), 1u);
}

TEST_F(PortserverLeasesTest, AfterARestartTheLeasesAreWatchedAgain) {
  ASSERT_TRUE(Leases().Grant("4242\n", alice_).ok());
  ASSERT_TRUE(Leases().Grant("4242\n", alice_).ok());
  manager_.Restart();
  ASSERT_EQ(Live().size(), 2u);
  EXPECT_EQ(Leases().ReleaseExited(), 0);
  processes_.Remove(4242);
  EXPECT_EQ(Leases().ReleaseExited(), 2);
  EXPECT_TRUE(Live().empty());
  manager_.Restart();
  EXPECT_TRUE(Live().empty());
}

}  // namespace
}  // namespace portlease
