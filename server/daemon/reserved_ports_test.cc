#include "server/daemon/reserved_ports.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/system/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

std::vector<PortRange> R(const std::string& text) {
  absl::StatusOr<std::vector<PortRange>> ranges = ParseReservedPorts(text);
  EXPECT_TRUE(ranges.ok()) << ranges.status();
  return ranges.ok() ? *ranges : std::vector<PortRange>{};
}

std::string F(const std::vector<PortRange>& ranges) {
  return FormatPortRanges(ranges);
}

TEST(ReservedPortsTest, MergeSortsAndJoinsOverlappingAndAdjacentRanges) {
  EXPECT_EQ(F(MergeRanges({{5, 9}, {1, 3}, {4, 4}})), "1-9");
  EXPECT_EQ(F(MergeRanges({{10, 20}, {12, 15}, {30, 30}, {21, 25}})),
            "10-25,30");
  EXPECT_EQ(F(MergeRanges({{1, 65535}, {7, 8}})), "1-65535");
  EXPECT_EQ(F(MergeRanges({{100, 200}, {300, 400}})), "100-200,300-400");
  EXPECT_TRUE(MergeRanges({}).empty());
}

TEST(ReservedPortsTest, SubtractCutsRangesApart) {
  EXPECT_EQ(F(SubtractRanges({{1, 100}}, {{10, 20}, {50, 50}})),
            "1-9,21-49,51-100");
  EXPECT_EQ(F(SubtractRanges({{1, 100}}, {{1, 100}})), "");
  EXPECT_EQ(F(SubtractRanges({{1, 100}}, {{0, 65535}})), "");
  EXPECT_EQ(F(SubtractRanges({{10, 20}}, {{1, 5}, {30, 40}})), "10-20");
  EXPECT_EQ(F(SubtractRanges({{10, 20}, {30, 40}}, {{15, 35}})), "10-14,36-40");
  EXPECT_EQ(F(SubtractRanges({{10, 20}}, {{5, 10}, {20, 25}})), "11-19");
  EXPECT_EQ(F(SubtractRanges({{65000, 65535}}, {{65535, 65535}})),
            "65000-65534");
  EXPECT_EQ(F(SubtractRanges({}, {{1, 2}})), "");
}

TEST(ReservedPortsTest, ParsesAndFormatsTheKernelsFormat) {
  EXPECT_TRUE(R("\n").empty());
  EXPECT_TRUE(R("").empty());
  EXPECT_EQ(F(R("1000-1010,2000\n")), "1000-1010,2000");
  EXPECT_EQ(F(R("2000,1000-1010,1011\n")), "1000-1011,2000");
  EXPECT_EQ(FormatReservedPorts({{1000, 1010}, {2000, 2000}}),
            "1000-1010,2000\n");
  EXPECT_EQ(FormatReservedPorts({}), "\n");
  for (const char* bad : {"x", "1-", "5-3", "70000", "1,,2", "1-2-3"}) {
    absl::StatusOr<std::vector<PortRange>> parsed = ParseReservedPorts(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(ReservedPortsTest, PlanAddsOnlyWhatNobodyReservedAndKeepsTheOthers) {
  // The first reservation: 5000 was someone else's.
  ReservationUpdate first = PlanReservation(R("5000,9000"), {}, R("4000-6000"));
  EXPECT_EQ(F(first.write), "4000-6000,9000");
  EXPECT_EQ(F(first.added), "4000-4999,5001-6000");
  // set-pool: the old pool's ports go, 5000 and 9000 stay.
  ReservationUpdate second =
      PlanReservation(first.write, first.added, R("7000-7999"));
  EXPECT_EQ(F(second.write), "5000,7000-7999,9000");
  EXPECT_EQ(F(second.added), "7000-7999");
  // Exit: exactly what was added goes.
  ReservationUpdate last = PlanReservation(second.write, second.added, {});
  EXPECT_EQ(F(last.write), "5000,9000");
  EXPECT_TRUE(last.added.empty());
  // Entries someone wrote meanwhile stay too.
  ReservationUpdate meanwhile =
      PlanReservation(R("5000,7000-7999,9000,12000"), second.added, {});
  EXPECT_EQ(F(meanwhile.write), "5000,9000,12000");
}

// ReservedPorts(path).Reserve(pool) as a user who may not write `path`:
// as is, or, for root (who may write anything), in a child process that
// became nobody first. The child reports the status through a pipe.
absl::Status ReserveUnprivileged(const std::string& path,
                                 const std::vector<PortRange>& pool) {
  if (geteuid() != 0) return ReservedPorts(path).Reserve(pool);
  int fds[2];
  if (pipe(fds) != 0) return absl::InternalError("pipe");
  const pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    absl::Status status = absl::InternalError("cannot become nobody");
    if (setgid(65534) == 0 && setuid(65534) == 0) {
      status = ReservedPorts(path).Reserve(pool);
    }
    const std::string report = absl::StrCat(
        static_cast<int>(status.code()), " ", status.message());
    ssize_t ignored = write(fds[1], report.data(), report.size());
    (void)ignored;
    _exit(0);
  }
  close(fds[1]);
  std::string report;
  char buffer[512];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof(buffer))) > 0;) {
    report.append(buffer, static_cast<size_t>(n));
  }
  close(fds[0]);
  waitpid(child, nullptr, 0);
  const size_t space = report.find(' ');
  int code = 0;
  if (space == std::string::npos ||
      !absl::SimpleAtoi(report.substr(0, space), &code)) {
    return absl::InternalError(absl::StrCat("child said: ", report));
  }
  return absl::Status(static_cast<absl::StatusCode>(code),
                      report.substr(space + 1));
}

class ReservedPortsFileTest : public ::testing::Test {
 protected:
  std::string Read() const {
    absl::StatusOr<std::string> text = ReadFile(path_);
    return text.ok() ? *text : "(unreadable)";
  }
  void Write(const std::string& text) { std::ofstream(path_) << text; }

  testing::TempDir dir_;
  std::string path_ = dir_.File("ip_local_reserved_ports");
};

TEST_F(ReservedPortsFileTest, ReservesReplacesAndReleasesItsOwnRanges) {
  Write("5000\n");
  ReservedPorts reserved(path_);
  ASSERT_TRUE(reserved.Reserve({{4000, 6000}}).ok());
  EXPECT_EQ(Read(), "4000-6000\n");
  EXPECT_EQ(F(reserved.added()), "4000-4999,5001-6000");
  ASSERT_TRUE(reserved.Reserve({{30000, 30999}}).ok());
  EXPECT_EQ(Read(), "5000,30000-30999\n");
  ASSERT_TRUE(reserved.Release().ok());
  EXPECT_EQ(Read(), "5000\n");
  EXPECT_TRUE(reserved.added().empty());
}

TEST_F(ReservedPortsFileTest, TheDestructorReleases) {
  Write("\n");
  {
    ReservedPorts reserved(path_);
    ASSERT_TRUE(reserved.Reserve({{20000, 20099}}).ok());
    EXPECT_EQ(Read(), "20000-20099\n");
  }
  EXPECT_EQ(Read(), "\n");
}

TEST_F(ReservedPortsFileTest, ARecordHandsWhatWasAddedToTheNextRun) {
  const std::string record = dir_.File("leases.db.reserved-ports");
  EXPECT_EQ(ReservedPortsRecordPath(dir_.File("leases.db")), record);
  Write("5000\n");
  // A run that ends without removing anything, as after kill -9.
  const pid_t crashed = fork();
  if (crashed == 0) {
    ReservedPorts reserved(path_, record);
    _exit(reserved.Reserve({{4000, 6000}}).ok() ? 0 : 1);
  }
  int status = -1;
  ASSERT_EQ(waitpid(crashed, &status, 0), crashed);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(Read(), "4000-6000\n");
  EXPECT_EQ(ReadFile(record).value_or(""), "4000-4999,5001-6000\n");
  // Meanwhile someone takes 4000-4099 out.
  Write("4100-6000\n");
  ReservedPorts restarted(path_, record);
  ASSERT_TRUE(restarted.Reserve({{4000, 6000}}).ok());
  EXPECT_EQ(Read(), "4000-6000\n");
  EXPECT_EQ(F(restarted.added()), "4000-4999,5001-6000");
  ASSERT_TRUE(restarted.Release().ok());
  EXPECT_EQ(Read(), "5000\n");
  EXPECT_FALSE(ReadFile(record).ok());  // nothing left to hand on
}

TEST_F(ReservedPortsFileTest, ErrorsSayWhatToDo) {
  ReservedPorts missing(dir_.File("no-such-file"));
  absl::Status status = missing.Reserve({{20000, 20099}});
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("use --reserve-pool=off"));

  Write("garbage\n");
  ReservedPorts garbled(path_);
  EXPECT_EQ(garbled.Reserve({{20000, 20099}}).code(),
            absl::StatusCode::kInvalidArgument);

  Write("\n");
  chmod(path_.c_str(), 0444);
  chmod(dir_.path().c_str(), 0755);  // readable, but not writable
  status = ReserveUnprivileged(path_, {{20000, 20099}});
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_THAT(status.message(),
              HasSubstr("--reserve-pool=on needs write access to " + path_));
  EXPECT_THAT(status.message(),
              HasSubstr("run as root or with CAP_NET_ADMIN, or "
                        "--reserve-pool=off)"));
  EXPECT_EQ(Read(), "\n");
}

}  // namespace
}  // namespace portlease
