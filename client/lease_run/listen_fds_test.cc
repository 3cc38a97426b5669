#include "lease_run/listen_fds.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lease_run/lease_run.h"

namespace portlease {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(ParseListenHostTest, LiteralAddresses) {
  for (const char* v4 : {"127.0.0.1", "0.0.0.0", "192.0.2.1"}) {
    absl::StatusOr<ListenAddress> host = ParseListenHost(v4);
    ASSERT_TRUE(host.ok()) << v4;
    EXPECT_EQ(host->address.ss_family, AF_INET);
    EXPECT_EQ(host->length, sizeof(sockaddr_in));
  }
  for (const char* v6 : {"::", "::1", "[::1]", "fe80::1"}) {
    absl::StatusOr<ListenAddress> host = ParseListenHost(v6);
    ASSERT_TRUE(host.ok()) << v6;
    EXPECT_EQ(host->address.ss_family, AF_INET6);
    EXPECT_EQ(host->length, sizeof(sockaddr_in6));
  }
}

TEST(ParseListenHostTest, RejectsNamesAndJunk) {
  for (const char* bad :
       {"localhost", "", "127.0.0.1:80", "[127.0.0.1]", "1.2.3", "[::1"}) {
    absl::StatusOr<ListenAddress> host = ParseListenHost(bad);
    EXPECT_FALSE(host.ok()) << bad;
    EXPECT_THAT(host.status().message(),
                HasSubstr("want a literal IPv4 or IPv6 address"));
  }
}

TEST(ListenFdsVariablesTest, NamesInLeaseOrder) {
  EXPECT_THAT(ListenFdsVariables({{"web", 20001}, {"admin", 20000}}),
              ElementsAre(Pair("LISTEN_FDS", "2"),
                          Pair("LISTEN_FDNAMES", "web:admin")));
  // --count: unnamed ports are p0, p1, ...
  EXPECT_THAT(
      ListenFdsVariables({{"", 20000}, {"", 20001}, {"", 20002}}),
      ElementsAre(Pair("LISTEN_FDS", "3"), Pair("LISTEN_FDNAMES", "p0:p1:p2")));
}

TEST(ListenFdsCommandTest, ExecStepKeepsTheCommand) {
  EXPECT_THAT(ListenFdsCommand({"server", "--flag", "a b"}),
              ElementsAre("/bin/sh", "-c",
                          "LISTEN_PID=$$; export LISTEN_PID; exec \"$@\"",
                          "lease-run", "server", "--flag", "a b"));
}

TEST(CheckCommandRunnableTest, SearchesPath) {
  EXPECT_TRUE(CheckCommandRunnable("sh").ok());
  EXPECT_TRUE(CheckCommandRunnable("/bin/sh").ok());
  EXPECT_EQ(CheckCommandRunnable("no-such-command-xyz").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(CheckCommandRunnable("/etc/passwd").code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(ListenSocketsTest, BindFailureNamesThePort) {
  // 192.0.2.1 (TEST-NET-1) is no address of this host.
  absl::StatusOr<ListenAddress> host = ParseListenHost("192.0.2.1");
  ASSERT_TRUE(host.ok());
  absl::StatusOr<ListenSockets> sockets =
      ListenSockets::Bind(*host, {{"web", 1}});
  ASSERT_FALSE(sockets.ok());
  EXPECT_EQ(sockets.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(sockets.status().message(),
            "cannot bind 192.0.2.1:1 (port web): Cannot assign requested "
            "address");
}

TEST(ListenSocketsTest, PortInUseIsUnavailable) {
  // An in-process listener on a port the kernel picks, kept open.
  const int held = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(held, reinterpret_cast<sockaddr*>(&address), sizeof(address)),
            0);
  ASSERT_EQ(listen(held, 1), 0);
  socklen_t length = sizeof(address);
  getsockname(held, reinterpret_cast<sockaddr*>(&address), &length);
  const uint16_t port = ntohs(address.sin_port);
  absl::StatusOr<ListenSockets> sockets =
      ListenSockets::Bind(*ParseListenHost("127.0.0.1"), {{"", port}});
  close(held);
  ASSERT_FALSE(sockets.ok());
  EXPECT_EQ(sockets.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(sockets.status().message(),
            absl::StrCat("cannot bind 127.0.0.1:", port,
                         " (port p0): Address already in use"));
}

TEST(ListenSocketsTest, SocketsListenAboveTheirTargets) {
  // Port 0: the kernel picks; only the sockets' shape is checked here.
  absl::StatusOr<ListenSockets> sockets =
      ListenSockets::Bind(*ParseListenHost("127.0.0.1"), {{"a", 0}, {"b", 0}});
  ASSERT_TRUE(sockets.ok()) << sockets.status();
  std::vector<int> fds = sockets->TakeFds();
  ASSERT_EQ(fds.size(), 2u);
  for (int fd : fds) {
    EXPECT_GE(fd, 5);
    EXPECT_NE(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    int listening = 0;
    socklen_t size = sizeof(listening);
    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size);
    EXPECT_EQ(listening, 1);
    close(fd);
  }
}

TEST(ListenFdsFlagsTest, ParsedAndChecked) {
  absl::StatusOr<LeaseRunOptions> options = ParseLeaseRunArgs(
      {"--ports", "web", "--listen-fds", "--listen-host", "::", "--", "c"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->listen_fds);
  EXPECT_EQ(options->listen_host, "::");
  options = ParseLeaseRunArgs({"--ports", "web", "--listen-fds", "--", "c"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->listen_host, "127.0.0.1");
}

TEST(ListenFdsFlagsTest, Refused) {
  auto message = [](std::vector<std::string> args) {
    return std::string(ParseLeaseRunArgs(args).status().message());
  };
  EXPECT_EQ(message({"--ports", "a", "--listen-host", "::", "--", "c"}),
            "--listen-host needs --listen-fds");
  EXPECT_THAT(message({"--ports", "a", "--listen-fds", "--udp", "--", "c"}),
              HasSubstr("not with --udp"));
  EXPECT_THAT(
      message({"--ports", "a", "--listen-fds", "--env-file", "f", "--detach"}),
      HasSubstr("not with --detach"));
  EXPECT_THAT(message({"--ports", "a", "--listen-fds", "--ctest-resource-spec",
                       "r", "--blocks", "2", "--", "c"}),
              HasSubstr("--ctest-resource-spec"));
  EXPECT_THAT(message({"--ports", "a", "--listen-fds", "--listen-host",
                       "localhost", "--", "c"}),
              HasSubstr("--listen-host localhost: want a literal"));
}

}  // namespace
}  // namespace portlease
