// portleased's command-line preparation and log lines.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/flags/flag.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/portleased_args.h"
#include "server/portleased_fds.h"
#include "server/portleased_files.h"
#include "server/portleased_log.h"
#include "tests/server/test_util.h"

ABSL_FLAG(std::vector<std::string>, test_list, {}, "a list");
ABSL_FLAG(int, test_number, 0, "a number");
ABSL_FLAG(bool, test_switch, false, "a switch");

namespace portlease {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<std::vector<std::string>> Prepare(
    std::vector<std::string> args) {
  args.insert(args.begin(), "prog");
  return PrepareArgs(args, {"test_list"});
}

TEST(PrepareArgsTest, JoinsRepeatedListFlags) {
  absl::StatusOr<std::vector<std::string>> out =
      Prepare({"--test_list=a", "--test_number", "5", "--test_list", "b,c",
               "--test_switch", "--notest_switch", "--help"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out,
              ElementsAre("prog", "--test_list=a,b,c", "--test_number=5",
                          "--test_switch=true", "--notest_switch", "--help"));
}

TEST(PrepareArgsTest, DashesAndUnderscoresAreOneFlag) {
  absl::StatusOr<std::vector<std::string>> out =
      Prepare({"--test-list=a-b", "--test_list", "c", "--test-number", "5",
               "--notest-switch"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out, ElementsAre("prog", "--test_list=a-b,c", "--test_number=5",
                                "--notest_switch"));
}

TEST(PrepareArgsTest, RejectsBadArguments) {
  EXPECT_THAT(Prepare({"--nope"}).status().message(),
              HasSubstr("unknown flag --nope"));
  // Messages use the user's spelling.
  EXPECT_THAT(Prepare({"--no-such-flag"}).status().message(),
              HasSubstr("unknown flag --no-such-flag "));
  EXPECT_THAT(Prepare({"--test-number=x"}).status().message(),
              HasSubstr("for --test-number:"));
  EXPECT_THAT(Prepare({"--test-number"}).status().message(),
              HasSubstr("flag --test-number needs a value"));
  EXPECT_THAT(Prepare({"--test_number=x"}).status().message(),
              HasSubstr("--test_number"));
  EXPECT_THAT(Prepare({"--test_number"}).status().message(),
              HasSubstr("needs a value"));
  EXPECT_THAT(Prepare({"extra"}).status().message(),
              HasSubstr("unexpected argument"));
  EXPECT_THAT(Prepare({"--", "extra"}).status().message(),
              HasSubstr("unexpected argument"));
  EXPECT_EQ(Prepare({"--nonope"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FormatFlagHelpTest, ListsTheFileFlagsSortedWithValueNamesAndDefaults) {
  EXPECT_EQ(FormatFlagHelp("portleased_support_test.cc", {{"test_list", "A,B"}}),
            "    --test-list=A,B\n"
            "        a list. Default: none.\n"
            "    --test-number=N\n"
            "        a number. Default: 0.\n"
            "    --[no]test-switch\n"
            "        a switch. Default: false.\n");
  EXPECT_EQ(FormatFlagHelp("no/such/file.cc"), "");
}

TEST(FormatLeaseEventTest, ShowsThePrefixNeverTheId) {
  LeaseRecord lease;
  lease.id = "0123456789abcdef0123456789abcdef";
  lease.base = 20000;
  lease.count = 3;
  lease.owner = {{"job", "42"}, {"cmd", "make test,all"}};
  LeaseEvent event{LeaseEvent::Type::kGranted, lease, 0, ""};
  const std::string line =
      FormatLeaseEvent(event, absl::FromUnixMillis(1'800'000'000'123));
  EXPECT_EQ(line,
            "2027-01-15T08:00:00.123Z INFO grant lease=01234567 "
            "ports=20000-20002 owner=cmd=make\\x20test\\x2call,job=42");
  EXPECT_EQ(line.find(lease.id), std::string::npos);
}

TEST(FormatLeaseEventTest, LevelsAndPorts) {
  LeaseEvent busy{LeaseEvent::Type::kForeignBusy, std::nullopt, 20005,
                  "bound by pid 7"};
  const std::string line = FormatLeaseEvent(busy, absl::UnixEpoch());
  EXPECT_THAT(line, HasSubstr(" WARN foreign-busy port=20005"));
  EXPECT_THAT(line, HasSubstr("detail=\"bound by pid 7\""));
  EXPECT_EQ(EventLevel(LeaseEvent::Type::kStoreError), "ERROR");
}

TEST(FormatLeaseEventTest, NamesWhoActedAndWarnsOnOverrides) {
  LeaseRecord lease;
  lease.id = "0123456789abcdef0123456789abcdef";
  lease.base = 20000;
  lease.count = 1;
  lease.caller = "uid:1000";
  LeaseEvent own{LeaseEvent::Type::kReleased, lease, 0, ""};
  own.by = "uid:1000";
  EXPECT_EQ(FormatLeaseEvent(own, absl::UnixEpoch()),
            "1970-01-01T00:00:00.000Z INFO release lease=01234567 "
            "ports=20000 by=uid:1000");
  LeaseEvent other = own;
  other.by = "x509:ci runner";
  other.privilege = "admin-token";
  EXPECT_EQ(FormatLeaseEvent(other, absl::UnixEpoch()),
            "1970-01-01T00:00:00.000Z WARN release lease=01234567 "
            "ports=20000 by=x509:ci\\x20runner privilege=admin-token");
  LeaseEvent expired{LeaseEvent::Type::kExpired, lease, 0, ""};
  expired.by = "server";
  EXPECT_THAT(FormatLeaseEvent(expired, absl::UnixEpoch()),
              HasSubstr("by=server"));
}

TEST(FdBudgetTest, ConnectionsFitTheOpenFileLimitMinusAReserve) {
  EXPECT_EQ(FdReserve(64), 32u);
  EXPECT_EQ(FdReserve(1 << 20), (1u << 20) / 8);
  // 0: what the budget allows, per Unix listener.
  EXPECT_EQ(*ConnectionBudget(0, 1, 64), 32u);
  EXPECT_EQ(*ConnectionBudget(0, 2, 1024), (1024u - 128) / 2);
  EXPECT_EQ(*ConnectionBudget(0, 1, 16), 1u);  // never 0
  EXPECT_EQ(*ConnectionBudget(32, 1, 64), 32u);
  absl::StatusOr<uint32_t> over = ConnectionBudget(33, 1, 64);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(over.status().message(),
              HasSubstr("--max-connections=33 does not fit the open-file "
                        "limit 64"));
  EXPECT_THAT(over.status().message(), HasSubstr("use at most 32"));
  EXPECT_TRUE(CheckStreamBudget(100).ok());
  EXPECT_THAT(CheckStreamBudget(0).message(), HasSubstr("--max-streams=0"));
  EXPECT_FALSE(CheckStreamBudget(65537).ok());
}

TEST(FdBudgetTest, RaisesTheSoftLimitToTheHardOne) {
  rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_max < 128) GTEST_SKIP() << "hard limit too low to test";
  rlimit low = saved;
  low.rlim_cur = 64;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  const FdLimit limit = RaiseFdLimit();
  rlimit now;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_EQ(limit.before, 64u);
  EXPECT_GT(limit.soft, 64u);
  EXPECT_EQ(limit.soft, now.rlim_cur);
  EXPECT_EQ(limit.hard, saved.rlim_max);
}

TEST(PortsPerOwnerTest, ATenthOfThePoolButNeverLessThanOneLease) {
  const std::vector<PortRange> pool = {{20000, 29999}};
  EXPECT_EQ(*PortsPerOwner(-1, pool, 64), 1000u);
  EXPECT_EQ(*PortsPerOwner(-1, {{20000, 20099}}, 64), 64u);
  EXPECT_EQ(*PortsPerOwner(0, pool, 64), 0u);  // no limit
  EXPECT_EQ(*PortsPerOwner(12, pool, 64), 12u);
  absl::StatusOr<uint32_t> bad = PortsPerOwner(-2, pool, 64);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("--max-ports-per-owner=-2"));
}

TEST(PortleasedFilesTest, MakeDirsAndDirOf) {
  TempDir dir;
  const std::string deep = dir.File("a/b/c");
  ASSERT_TRUE(MakeDirs(deep, 0755).ok());
  struct stat st;
  ASSERT_EQ(stat(deep.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_TRUE(MakeDirs(deep, 0755).ok());
  EXPECT_EQ(DirOf("/run/portlease/x.sock"), "/run/portlease");
  EXPECT_EQ(DirOf("/x"), "/");
  EXPECT_EQ(DirOf("x"), ".");
}

TEST(PortleasedFilesTest, SecondSocketLockNamesTheHolder) {
  TempDir dir;
  const std::string socket = dir.File("portleased.sock");
  absl::StatusOr<std::unique_ptr<LockFile>> first = LockSocket(socket);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<LockFile>> second = LockSocket(socket);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(),
              HasSubstr("another portleased is serving unix:" + socket));
  first->reset();
  EXPECT_TRUE(LockSocket(socket).ok());
}

// Everything `fd` gives until end of file; closes it.
std::string ReadToEnd(int fd) {
  std::string text;
  char buffer[256];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) text.append(buffer, n);
  close(fd);
  return text;
}

TEST(LogWriterTest, WritesLinesInOrder) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  {
    LogWriter writer(fds[1]);
    writer.Write("one");
    writer.Write("two");
  }  // flushed by the destructor
  close(fds[1]);
  const std::string text = ReadToEnd(fds[0]);
  EXPECT_EQ(text, "one\ntwo\n");
}

TEST(LogWriterTest, EventsAreFormattedInTheirPlaceInOrder) {
  LeaseEvent event;
  event.type = LeaseEvent::Type::kGranted;
  LeaseRecord lease;
  lease.id = "0123456789abcdef0123456789abcdef";
  lease.base = 20000;
  lease.count = 2;
  lease.names = {"redis", "worker"};
  lease.owner = {{"job", "42"}};
  event.lease = lease;
  const absl::Time at = absl::FromUnixSeconds(1900000000);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  {
    LogWriter writer(fds[1]);
    writer.Write("before");
    writer.WriteEvent(event, at);
    writer.Write("after");
  }  // flushed by the destructor
  close(fds[1]);
  const std::string text = ReadToEnd(fds[0]);
  EXPECT_EQ(text, "before\n" + FormatLeaseEvent(event, at) + "\nafter\n");
  EXPECT_THAT(text, HasSubstr("lease=01234567"));
}

TEST(LogWriterTest, AStuckReaderNeverBlocksTheWriter) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const absl::Time start = absl::Now();
  {
    LogWriter writer(fds[1], /*max_pending=*/16);
    // Far more than the pipe holds; nobody reads.
    for (int i = 0; i < 100'000; ++i) writer.Write(std::string(200, 'x'));
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace portlease
