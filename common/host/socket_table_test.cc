#include "common/host/socket_table.h"

#include <sys/socket.h>

#include <bit>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "common/host/host_test_util.h"
#include "testing/temp_dir.h"

namespace portlease {
namespace {

using ::testing::IsEmpty;
using testing_util::LiveEntries;
using testing_util::LocalPort;
using testing_util::OpenSocket;
using testing_util::SocketInode;
using testing_util::WriteFixture;

// Fixture tables as an x86-64 kernel writes them.
constexpr char kTcp[] =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
    "retrnsmt   uid  timeout inode\n"
    "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 "
    "00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0100007F:1F90 0100007F:D431 06 00000000:00000000 03:00001770 "
    "00000000     0        0 0 3 0000000000000000\n"
    "   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 "
    "00000000     0        0 777 1 0000000000000000 100 0 0 10 0\n";

constexpr char kTcp6[] =
    "  sl  local_address                         remote_address          "
    "              st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n"
    "   0: 00000000000000000000000000000000:1F91 "
    "00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 "
    "00000000     0        0 2222 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0000000000000000FFFF00000100007F:1F92 "
    "0000000000000000FFFF00000100007F:C000 01 00000000:00000000 00:00000000 "
    "00000000  1000        0 3333 1 0000000000000000 20 4 30 10 -1\n"
    "   2: 00000000000000000000000001000000:1F93 "
    "00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 "
    "00000000  1000        0 4444 1 0000000000000000 100 0 0 10 0\n";

constexpr char kUdp[] =
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
    "retrnsmt   uid  timeout inode ref pointer drops\n"
    "  123: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 "
    "00000000   101        0 5555 2 0000000000000000 0\n"
    "  200: 0100007F:0035 0100007F:A000 01 00000000:00000000 00:00000000 "
    "00000000     0        0 6666 2 0000000000000000 0\n";

class FixtureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if constexpr (std::endian::native != std::endian::little) {
      GTEST_SKIP() << "fixtures are in little-endian kernel format";
    }
  }
};

using SocketTableParseTest = FixtureTest;

TEST_F(SocketTableParseTest, Tcp) {
  absl::StatusOr<std::vector<SocketEntry>> entries =
      ParseSocketTable(kTcp, SocketProtocol::kTcp, IpFamily::kV4);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 3u);
  const SocketEntry& listener = (*entries)[0];
  EXPECT_EQ(listener.protocol, SocketProtocol::kTcp);
  EXPECT_EQ(listener.family, IpFamily::kV4);
  EXPECT_EQ(listener.local_address, "127.0.0.1");
  EXPECT_EQ(listener.local_port, 8080);
  EXPECT_EQ(listener.remote_address, "0.0.0.0");
  EXPECT_EQ(listener.remote_port, 0);
  EXPECT_EQ(listener.state_code, 10);
  EXPECT_EQ(listener.state, "LISTEN");
  EXPECT_EQ(listener.uid, 1000u);
  EXPECT_EQ(listener.inode, 12345u);

  const SocketEntry& time_wait = (*entries)[1];
  EXPECT_EQ(time_wait.state, "TIME_WAIT");
  EXPECT_EQ(time_wait.local_port, 8080);
  EXPECT_EQ(time_wait.remote_port, 54321);
  EXPECT_EQ(time_wait.inode, 0u);

  EXPECT_EQ((*entries)[2].local_address, "0.0.0.0");
  EXPECT_EQ((*entries)[2].local_port, 22);
}

TEST_F(SocketTableParseTest, Tcp6WithMappedAddresses) {
  absl::StatusOr<std::vector<SocketEntry>> entries =
      ParseSocketTable(kTcp6, SocketProtocol::kTcp, IpFamily::kV6);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].family, IpFamily::kV6);
  EXPECT_EQ((*entries)[0].local_address, "::");
  EXPECT_EQ((*entries)[0].local_port, 8081);
  EXPECT_EQ((*entries)[0].state, "LISTEN");
  EXPECT_EQ((*entries)[0].inode, 2222u);

  EXPECT_EQ((*entries)[1].local_address, "::ffff:127.0.0.1");
  EXPECT_EQ((*entries)[1].local_port, 8082);
  EXPECT_EQ((*entries)[1].remote_address, "::ffff:127.0.0.1");
  EXPECT_EQ((*entries)[1].remote_port, 0xC000);
  EXPECT_EQ((*entries)[1].state, "ESTABLISHED");

  EXPECT_EQ((*entries)[2].local_address, "::1");
  EXPECT_EQ((*entries)[2].local_port, 8083);
}

TEST_F(SocketTableParseTest, UdpUnconnectedAndConnected) {
  absl::StatusOr<std::vector<SocketEntry>> entries =
      ParseSocketTable(kUdp, SocketProtocol::kUdp, IpFamily::kV4);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].protocol, SocketProtocol::kUdp);
  EXPECT_EQ((*entries)[0].local_port, 5353);
  EXPECT_EQ((*entries)[0].state, "UNCONN");
  EXPECT_EQ((*entries)[0].uid, 101u);
  EXPECT_EQ((*entries)[1].local_port, 53);
  EXPECT_EQ((*entries)[1].state, "ESTABLISHED");
}

TEST_F(SocketTableParseTest, EmptyAndHeaderOnly) {
  for (const char* text : {"", "\n", "  sl  local_address rem_address st\n"}) {
    absl::StatusOr<std::vector<SocketEntry>> entries =
        ParseSocketTable(text, SocketProtocol::kTcp, IpFamily::kV4);
    ASSERT_TRUE(entries.ok()) << entries.status();
    EXPECT_THAT(*entries, IsEmpty());
  }
}

TEST_F(SocketTableParseTest, MalformedLinesAreRejected) {
  const char* bad[] = {
      "   0: 0100007F:1F90 00000000:0000 0A\n",
      "   0: 0100007G:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1\n",
      "   0: 0100007F1F90 00000000:0000 0A 0:0 0:0 0 0 0 1\n",
      "   0: 0100007F:1F90 00000000:0000 XX 0:0 0:0 0 0 0 1\n",
      "   0: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 uid 0 1\n",
      "   0: 0100007F:01F90 00000000:0000 0A 0:0 0:0 0 0 0 1\n",
  };
  for (const char* line : bad) {
    absl::StatusOr<std::vector<SocketEntry>> entries =
        ParseSocketTable(line, SocketProtocol::kTcp, IpFamily::kV4);
    EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument)
        << line;
  }
  // A v4 address in a v6 table is malformed too.
  EXPECT_FALSE(
      ParseSocketTable(kTcp, SocketProtocol::kTcp, IpFamily::kV6).ok());
}

TEST(SocketStateNameTest, UdpCloseIsUnconn) {
  EXPECT_EQ(SocketStateName(SocketProtocol::kTcp, 7), "CLOSE");
  EXPECT_EQ(SocketStateName(SocketProtocol::kUdp, 7), "UNCONN");
  EXPECT_EQ(SocketStateName(SocketProtocol::kTcp, 6), "TIME_WAIT");
  EXPECT_EQ(SocketStateName(SocketProtocol::kTcp, 99), "UNKNOWN");
}

using ReadSocketTableTest = FixtureTest;

TEST_F(ReadSocketTableTest, ReadsSelectedTablesAndSkipsMissingOnes) {
  const testing::TempDir temp;
  const std::string root = temp.path();
  ASSERT_TRUE(WriteFixture(root, "net/tcp", kTcp));
  ASSERT_TRUE(WriteFixture(root, "net/udp", kUdp));
  // No tcp6 or udp6: a host without IPv6.

  absl::StatusOr<std::vector<SocketEntry>> tcp_only =
      ReadSocketTable(root, {.tcp = true, .udp = false});
  ASSERT_TRUE(tcp_only.ok()) << tcp_only.status();
  EXPECT_EQ(tcp_only->size(), 3u);

  absl::StatusOr<std::vector<SocketEntry>> both =
      ReadSocketTable(root, {.tcp = true, .udp = true});
  ASSERT_TRUE(both.ok()) << both.status();
  ASSERT_EQ(both->size(), 5u);
  EXPECT_EQ(both->back().protocol, SocketProtocol::kUdp);

  ASSERT_TRUE(WriteFixture(root, "net/tcp6", kTcp6));
  both = ReadSocketTable(root, {.tcp = true, .udp = true});
  ASSERT_TRUE(both.ok()) << both.status();
  ASSERT_EQ(both->size(), 8u);
  EXPECT_EQ((*both)[3].family, IpFamily::kV6);
}

TEST_F(ReadSocketTableTest, EmptyRootGivesNoEntries) {
  const testing::TempDir temp;
  absl::StatusOr<std::vector<SocketEntry>> entries =
      ReadSocketTable(temp.path(), {});
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(*entries, IsEmpty());
}

TEST_F(ReadSocketTableTest, MalformedTableNamesTheFile) {
  const testing::TempDir temp;
  const std::string root = temp.path();
  ASSERT_TRUE(WriteFixture(root, "net/tcp6", "   0: nonsense\n"));
  absl::StatusOr<std::vector<SocketEntry>> entries = ReadSocketTable(root, {});
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(entries.status().message()),
              ::testing::HasSubstr("net/tcp6"));
}

TEST(LiveSocketTableTest, FindsOwnListenerWithItsInode) {
  absl::StatusOr<testing_util::ScopedFd> listener =
      OpenSocket({.type = SOCK_STREAM, .address = "127.0.0.1", .listen = true});
  ASSERT_TRUE(listener.ok()) << listener.status();
  const Port port = LocalPort(listener->get());
  std::vector<SocketEntry> entries = LiveEntries(port, /*udp=*/false);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].local_address, "127.0.0.1");
  EXPECT_EQ(entries[0].state, "LISTEN");
  EXPECT_EQ(entries[0].inode, SocketInode(listener->get()));
}

TEST(LiveSocketTableTest, FindsOwnUdpV6Socket) {
  absl::StatusOr<testing_util::ScopedFd> socket =
      OpenSocket({.type = SOCK_DGRAM, .address = "::1"});
  if (!socket.ok()) GTEST_SKIP() << "no IPv6 loopback: " << socket.status();
  const Port port = LocalPort(socket->get());
  std::vector<SocketEntry> entries = LiveEntries(port, /*udp=*/true);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].protocol, SocketProtocol::kUdp);
  EXPECT_EQ(entries[0].family, IpFamily::kV6);
  EXPECT_EQ(entries[0].local_address, "::1");
  EXPECT_EQ(entries[0].state, "UNCONN");
}

}  // namespace
}  // namespace portlease
