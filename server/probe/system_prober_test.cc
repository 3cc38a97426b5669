#include "server/probe/system_prober.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "common/host/host_test_util.h"
#include "testing/poll_until.h"
#include "testing/temp_dir.h"

namespace portlease {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing_util::ConnectLoopback;
using testing_util::CountOpenFds;
using testing_util::LiveEntries;
using testing_util::LocalPort;
using testing_util::OpenSocket;
using testing::PollUntil;
using testing_util::ScopedFd;
using testing_util::SetLingerZero;
using testing_util::WriteFixture;

constexpr absl::Duration kSettle = absl::Seconds(5);

// Opens a socket as `spec` says, on a port the kernel picks; stores the port.
ScopedFd Open(testing_util::SocketSpec spec, Port* port) {
  absl::StatusOr<ScopedFd> fd = OpenSocket(spec);
  EXPECT_TRUE(fd.ok()) << fd.status();
  if (!fd.ok()) return ScopedFd();
  *port = LocalPort(fd->get());
  EXPECT_NE(*port, 0);
  return *std::move(fd);
}

bool HasState(Port port, absl::string_view state) {
  for (const SocketEntry& entry : LiveEntries(port, /*udp=*/false)) {
    if (entry.state == state) return true;
  }
  return false;
}

// After the last socket on `port` is closed, the port turns free (loopback
// teardown may lag the close() a little).
bool BecomesFree(SystemProber& prober, Port port, bool udp) {
  return PollUntil([&] { return prober.Busy(port, 1, udp)->empty(); }, kSettle);
}

TEST(SystemProberTest, LoopbackListenerIsBusyUntilClosed) {
  SystemProber prober;
  Port port = 0;
  ScopedFd listener = Open(
      {.type = SOCK_STREAM, .address = "127.0.0.1", .listen = true}, &port);
  EXPECT_THAT(*prober.Busy(port, 1, false), ElementsAre(port));
  EXPECT_THAT(*prober.Busy(port, 1, true), ElementsAre(port));
  listener.reset();
  EXPECT_TRUE(BecomesFree(prober, port, true));
}

TEST(SystemProberTest, WildcardV4ListenerIsBusy) {
  SystemProber prober;
  Port port = 0;
  ScopedFd listener =
      Open({.type = SOCK_STREAM, .address = "0.0.0.0", .listen = true}, &port);
  EXPECT_THAT(*prober.Busy(port, 1, false), ElementsAre(port));
  listener.reset();
  EXPECT_TRUE(BecomesFree(prober, port, false));
}

TEST(SystemProberTest, DualStackListenerIsBusy) {
  SystemProber prober;
  Port port = 0;
  absl::StatusOr<ScopedFd> probe = OpenSocket(
      {.type = SOCK_STREAM, .address = "::", .v6only = false, .listen = true});
  if (!probe.ok()) GTEST_SKIP() << "no IPv6: " << probe.status();
  probe->reset();
  ScopedFd listener = Open(
      {.type = SOCK_STREAM, .address = "::", .v6only = false, .listen = true},
      &port);
  EXPECT_THAT(*prober.Busy(port, 1, false), ElementsAre(port));
  listener.reset();
  EXPECT_TRUE(BecomesFree(prober, port, false));
}

TEST(SystemProberTest, V6LoopbackListenerIsBusy) {
  SystemProber prober;
  absl::StatusOr<ScopedFd> listener =
      OpenSocket({.type = SOCK_STREAM, .address = "::1", .listen = true});
  if (!listener.ok()) GTEST_SKIP() << "no IPv6: " << listener.status();
  const Port port = LocalPort(listener->get());
  EXPECT_THAT(*prober.Busy(port, 1, false), ElementsAre(port));
}

TEST(SystemProberTest, BoundButNotListeningTcpIsBusy) {
  SystemProber prober;
  Port port = 0;
  ScopedFd bound = Open({.type = SOCK_STREAM, .address = "127.0.0.1"}, &port);
  // Not in the socket tables: the bind is what sees it.
  EXPECT_THAT(LiveEntries(port, false), IsEmpty());
  EXPECT_THAT(*prober.Busy(port, 1, false), ElementsAre(port));
  bound.reset();
  EXPECT_TRUE(BecomesFree(prober, port, false));
}

// Bound with SO_REUSEADDR and not listening: in no table, and a
// SO_REUSEADDR bind shares the port; the plain bind is what sees it, in
// both schemes.
TEST(SystemProberTest, BoundButNotListeningReuseAddressTcpIsBusy) {
  SystemProber exclusive;
  SystemProber tables({.exclusive_bind = false});
  for (const char* address : {"127.0.0.1", "0.0.0.0"}) {
    for (SystemProber* prober : {&exclusive, &tables}) {
      Port port = 0;
      ScopedFd bound =
          Open({.type = SOCK_STREAM, .address = address, .reuse_address = true},
               &port);
      EXPECT_THAT(LiveEntries(port, false), IsEmpty());
      EXPECT_THAT(*prober->Busy(port, 1, false), ElementsAre(port)) << address;
      bound.reset();
      EXPECT_TRUE(BecomesFree(*prober, port, false));
    }
  }
}

// One dual-stack bind per port (when the kernel passes the constructor's
// check) and the two separate binds agree on every kind of socket.
TEST(SystemProberTest, DualStackAndSeparateBindsAgree) {
  SystemProber dual;
  SystemProber separate({.dual_stack_bind = false});
  std::vector<testing_util::SocketSpec> specs = {
      {.type = SOCK_STREAM, .address = "127.0.0.1"},
      {.type = SOCK_STREAM, .address = "0.0.0.0", .listen = true},
      {.type = SOCK_STREAM, .address = "127.0.0.1", .reuse_address = true},
      {.type = SOCK_DGRAM, .address = "127.0.0.1"},
      {.type = SOCK_DGRAM, .address = "0.0.0.0"},
  };
  if (OpenSocket({.type = SOCK_STREAM, .address = "::1"}).ok()) {
    specs.push_back({.type = SOCK_STREAM, .address = "::1", .listen = true});
    specs.push_back({.type = SOCK_STREAM, .address = "::"});
    specs.push_back({.type = SOCK_DGRAM, .address = "::1"});
    specs.push_back({.type = SOCK_STREAM, .address = "::", .v6only = false});
  }
  for (const testing_util::SocketSpec& spec : specs) {
    Port port = 0;
    ScopedFd fd = Open(spec, &port);
    const bool udp = spec.type == SOCK_DGRAM;
    for (SystemProber* prober : {&dual, &separate}) {
      EXPECT_THAT(*prober->Busy(port, 1, /*udp=*/true), ElementsAre(port))
          << spec.address << (udp ? " udp" : " tcp");
    }
  }
}

TEST(SystemProberTest, TableSchemeSeesListenersAndUdpSockets) {
  SystemProber tables({.exclusive_bind = false});
  Port port = 0;
  ScopedFd listener = Open(
      {.type = SOCK_STREAM, .address = "127.0.0.1", .listen = true}, &port);
  EXPECT_THAT(*tables.Busy(port, 1, false), ElementsAre(port));
  listener.reset();
  EXPECT_TRUE(BecomesFree(tables, port, false));
  ScopedFd udp = Open({.type = SOCK_DGRAM, .address = "127.0.0.1"}, &port);
  EXPECT_THAT(*tables.Busy(port, 1, true), ElementsAre(port));
  udp.reset();
  EXPECT_TRUE(BecomesFree(tables, port, true));
}

TEST(SystemProberTest, UdpSocketIsBusyOnlyWhenUdpIsAsked) {
  SystemProber prober;
  // The kernel may hand out a UDP port that some unrelated TCP socket on the
  // host uses; try a few until one is TCP-free.
  bool tcp_free_seen = false;
  for (int attempt = 0; attempt < 20 && !tcp_free_seen; ++attempt) {
    Port port = 0;
    ScopedFd udp = Open({.type = SOCK_DGRAM, .address = "127.0.0.1"}, &port);
    ASSERT_GE(udp.get(), 0);
    EXPECT_THAT(*prober.Busy(port, 1, true), ElementsAre(port));
    tcp_free_seen = prober.Busy(port, 1, false)->empty();
  }
  EXPECT_TRUE(tcp_free_seen);
}

TEST(SystemProberTest, UdpV6SocketIsBusy) {
  SystemProber prober;
  absl::StatusOr<ScopedFd> udp =
      OpenSocket({.type = SOCK_DGRAM, .address = "::1"});
  if (!udp.ok()) GTEST_SKIP() << "no IPv6: " << udp.status();
  const Port port = LocalPort(udp->get());
  EXPECT_THAT(*prober.Busy(port, 1, true), ElementsAre(port));
  udp->reset();
  EXPECT_TRUE(BecomesFree(prober, port, true));
}

// A TIME_WAIT on port P is busy, to the exclusive bind, to the tables and
// to the table scheme's plain bind (a SO_REUSEADDR bind alone would
// succeed); it is cleared by reusing its
// 4-tuple (the kernel retires a TIME_WAIT on a newer SYN when P listens
// again) and closing that connection with RST.
TEST(SystemProberTest, TimeWaitIsBusyUntilCleared) {
  SystemProber prober;
  SystemProber tables({.exclusive_bind = false});
  const testing::TempDir temp;
  SystemProber bind_only({.proc_root = temp.path(), .exclusive_bind = false});
  Port port = 0;
  ScopedFd listener = Open({.type = SOCK_STREAM,
                            .address = "127.0.0.1",
                            .reuse_address = true,
                            .listen = true},
                           &port);
  absl::StatusOr<ScopedFd> client = ConnectLoopback(port, 0, kSettle);
  ASSERT_TRUE(client.ok()) << client.status();
  const Port client_port = LocalPort(client->get());
  ScopedFd server(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_GE(server.get(), 0);
  // The server side closes first, so the TIME_WAIT lands on `port`.
  server.reset();
  client->reset();
  listener.reset();
  ASSERT_TRUE(PollUntil([&] { return HasState(port, "TIME_WAIT"); }, kSettle));

  EXPECT_THAT(*prober.Busy(port, 1, false), ElementsAre(port));
  EXPECT_THAT(*tables.Busy(port, 1, false), ElementsAre(port));
  // Without tables, the plain (no SO_REUSEADDR) bind still sees it.
  EXPECT_THAT(*bind_only.Busy(port, 1, false), ElementsAre(port));
  // Nothing holds the port against a SO_REUSEADDR server: not Held (the
  // table scheme answers as Busy).
  EXPECT_THAT(*prober.Held(port, 1, false), IsEmpty());
  EXPECT_THAT(*prober.Held(port, 1, true), IsEmpty());
  EXPECT_THAT(*tables.Held(port, 1, false), ElementsAre(port));

  // Clear it: same 4-tuple, then RST-close both ends.
  listener = Open({.type = SOCK_STREAM,
                   .address = "127.0.0.1",
                   .port = port,
                   .reuse_address = true,
                   .listen = true},
                  &port);
  ASSERT_GE(listener.get(), 0);
  client = ConnectLoopback(port, client_port, kSettle);
  ASSERT_TRUE(client.ok()) << client.status();
  server = ScopedFd(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_GE(server.get(), 0);
  ASSERT_TRUE(SetLingerZero(server.get()));
  ASSERT_TRUE(SetLingerZero(client->get()));
  server.reset();
  client->reset();
  listener.reset();
  EXPECT_TRUE(
      PollUntil([&] { return LiveEntries(port, false).empty(); }, kSettle));
  EXPECT_TRUE(BecomesFree(prober, port, false));
}

// Held: what a server binding with SO_REUSEADDR would be refused by. A
// listener (with or without SO_REUSEADDR), a socket bound without it and a
// UDP socket (when asked) are held; a SO_REUSEADDR socket that is only
// bound is not (such a server could bind beside it), though Busy reports it.
TEST(SystemProberTest, HeldSeesListenersAndPlainBindsOnly) {
  SystemProber prober;
  for (bool reuse : {false, true}) {
    Port port = 0;
    ScopedFd listener = Open({.type = SOCK_STREAM,
                              .address = "127.0.0.1",
                              .reuse_address = reuse,
                              .listen = true},
                             &port);
    EXPECT_THAT(*prober.Held(port, 1, false), ElementsAre(port)) << reuse;
    listener.reset();
    EXPECT_TRUE(PollUntil([&] { return prober.Held(port, 1, false)->empty(); },
                          kSettle));
  }
  Port port = 0;
  ScopedFd bound = Open({.type = SOCK_STREAM, .address = "0.0.0.0"}, &port);
  EXPECT_THAT(*prober.Held(port, 1, false), ElementsAre(port));
  bound.reset();
  ScopedFd shared = Open(
      {.type = SOCK_STREAM, .address = "0.0.0.0", .reuse_address = true},
      &port);
  EXPECT_THAT(*prober.Busy(port, 1, false), ElementsAre(port));
  EXPECT_THAT(*prober.Held(port, 1, false), IsEmpty());
  shared.reset();
  ScopedFd udp = Open({.type = SOCK_DGRAM, .address = "127.0.0.1"}, &port);
  EXPECT_THAT(*prober.Held(port, 1, false), IsEmpty());
  EXPECT_THAT(*prober.Held(port, 1, true), ElementsAre(port));
}

TEST(SystemProberTest, TableEntryMakesAnUnboundPortBusy) {
  if constexpr (std::endian::native != std::endian::little) {
    GTEST_SKIP() << "fixtures are in little-endian kernel format";
  }
  SystemProber live;
  Port port = 0;
  Open({.type = SOCK_STREAM, .address = "127.0.0.1"}, &port).reset();
  ASSERT_TRUE(BecomesFree(live, port, true));

  const testing::TempDir temp;
  const std::string root = temp.path();
  SystemProber prober({.proc_root = root, .exclusive_bind = false});
  EXPECT_THAT(*prober.Busy(port, 1, true), IsEmpty());
  const std::string header = "  sl  local_address rem_address   st\n";
  ASSERT_TRUE(WriteFixture(
      root, "net/udp6",
      absl::StrCat(
          header, absl::StrFormat("   0: 00000000000000000000000001000000:%04X "
                                  "00000000000000000000000000000000:0000 07 "
                                  "0:0 0:0 0 0 0 42 2 0 0\n",
                                  port))));
  EXPECT_THAT(*prober.Busy(port, 1, false), IsEmpty());
  EXPECT_THAT(*prober.Busy(port, 1, true), ElementsAre(port));

  ASSERT_TRUE(WriteFixture(
      root, "net/tcp",
      absl::StrCat(header, absl::StrFormat("   0: 0100007F:%04X 0100007F:9999 "
                                           "06 0:0 0:0 0 0 0 0 3 0\n",
                                           port))));
  EXPECT_THAT(*prober.Busy(port, 1, false), ElementsAre(port));
}

TEST(SystemProberTest, UnreadableTablesFailSafe) {
  const testing::TempDir temp;
  const std::string root = temp.path();
  ASSERT_TRUE(WriteFixture(root, "net/tcp", "   0: garbage\n"));
  SystemProber prober({.proc_root = root, .exclusive_bind = false});
  EXPECT_THAT(*prober.Busy(40000, 3, false), ElementsAre(40000, 40001, 40002));
}

TEST(SystemProberTest, RangeEdges) {
  const testing::TempDir temp;
  SystemProber prober({.proc_root = temp.path()});
  EXPECT_THAT(*prober.Busy(1000, 0, true), IsEmpty());
  EXPECT_THAT(*prober.Busy(0, 1, false), ElementsAre(0));
  absl::StatusOr<std::vector<Port>> edge = prober.Busy(65530, 100, false);
  ASSERT_TRUE(edge.ok()) << edge.status();
  for (Port port : *edge) {
    EXPECT_GE(port, 65530);
  }
}

TEST(SystemProberTest, ReportsOnlyBusyPortsOfARange) {
  SystemProber prober;
  Port port = 0;
  ScopedFd listener = Open(
      {.type = SOCK_STREAM, .address = "127.0.0.1", .listen = true}, &port);
  const Port first = port > 2 ? port - 2 : port;
  std::vector<Port> busy = *prober.Busy(first, 5, false);
  EXPECT_THAT(busy, ::testing::Contains(port));
  EXPECT_TRUE(std::is_sorted(busy.begin(), busy.end()));
}

TEST(SystemProberTest, ClosesEveryProbeSocket) {
  SystemProber prober;
  Port port = 0;
  ScopedFd listener = Open(
      {.type = SOCK_STREAM, .address = "127.0.0.1", .listen = true}, &port);
  const Port first = port > 100 ? port - 100 : 1;
  const int before = CountOpenFds();
  ASSERT_GT(before, 0);
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(*prober.Busy(first, 200, true), ::testing::Contains(port));
  }
  EXPECT_EQ(CountOpenFds(), before);
}

// Out of file descriptors, a probe says so instead of calling the ports
// busy (a full host is not an empty fd table).
TEST(SystemProberTest, OutOfDescriptorsIsAFaultNotBusyPorts) {
  for (bool exclusive : {true, false}) {
    SystemProber prober({.exclusive_bind = exclusive});
    rlimit saved;
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
    rlimit low = saved;
    low.rlim_cur = std::min<rlim_t>(saved.rlim_cur, 512);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    // Fill the table; bounded by the lowered limit.
    std::vector<int> filler;
    for (rlim_t i = 0; i < low.rlim_cur; ++i) {
      const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) break;
      filler.push_back(fd);
    }
    absl::StatusOr<std::vector<Port>> busy = prober.Busy(40000, 4, true);
    absl::StatusOr<std::vector<Port>> held = prober.Held(40000, 4, true);
    for (int fd : filler) close(fd);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
    ASSERT_EQ(busy.status().code(), absl::StatusCode::kUnavailable)
        << exclusive;
    EXPECT_THAT(busy.status().message(),
                ::testing::HasSubstr("server out of file descriptors"));
    EXPECT_EQ(held.status().code(), absl::StatusCode::kUnavailable);
  }
}

TEST(EphemeralRangeTest, ReadsTheLiveHost) {
  absl::StatusOr<PortRange> range = ReadEphemeralPortRange();
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_LE(range->lo, range->hi);
  EXPECT_GE(range->lo, 1);
}

TEST(EphemeralRangeTest, ReadsFixtures) {
  const testing::TempDir temp;
  const std::string root = temp.path();
  EXPECT_EQ(ReadEphemeralPortRange(root).status().code(),
            absl::StatusCode::kNotFound);
  const std::string file = "sys/net/ipv4/ip_local_port_range";
  ASSERT_TRUE(WriteFixture(root, file, "32768\t60999\n"));
  absl::StatusOr<PortRange> range = ReadEphemeralPortRange(root);
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(*range, (PortRange{32768, 60999}));

  for (const char* bad :
       {"", "32768", "60999 32768", "0 10", "1 70000", "1 2 3", "a b"}) {
    ASSERT_TRUE(WriteFixture(root, file, bad));
    EXPECT_EQ(ReadEphemeralPortRange(root).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

}  // namespace
}  // namespace portlease
