// portleased's log lines and the writer that never blocks on its reader.
#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/daemon/log.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

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

TEST(LogWriterTest, FlushReturnsOnceTheQueuedLinesAreWritten) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK), 0);
  std::string text;
  {
    LogWriter writer(fds[1]);
    writer.Write("one");
    writer.Write("two");
    writer.Write("three");
    writer.Flush(absl::Seconds(30));
    // Read before the destructor flushes: Flush alone wrote them.
    char buffer[256];
    ssize_t n;
    while ((n = read(fds[0], buffer, sizeof(buffer))) > 0) {
      text.append(buffer, static_cast<size_t>(n));
    }
  }
  EXPECT_EQ(text, "one\ntwo\nthree\n");
  close(fds[0]);
  close(fds[1]);
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
