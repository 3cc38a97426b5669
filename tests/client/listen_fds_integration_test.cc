// lease-run --listen-fds against a real portleased whose pool is leased
// from the suite's server: the sockets reach a Python server and
// systemd-socket-proxyd by the socket-activation protocol, the port is
// bound before the command starts, a bind failure releases the lease, and
// README's "Socket hand-off" block runs as written.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "portlease/client.h"
#include "testing/temp_dir.h"
#include "tests/client/test_support.h"
#include "tests/support/test_ports.h"

namespace portlease::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kProxyd[] = "/lib/systemd/systemd-socket-proxyd";
constexpr char kPython[] = "/usr/bin/python3";

// A socket on 127.0.0.1:port; connect() when `connect_to`, else bind().
// Returns the fd, or -errno.
int LoopbackSocket(uint16_t port, bool connect_to) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const auto* a = reinterpret_cast<const sockaddr*>(&address);
  const int r = connect_to ? connect(fd, a, sizeof(address))
                           : bind(fd, a, sizeof(address));
  if (r != 0) {
    const int error = errno;
    close(fd);
    return -error;
  }
  return fd;
}

// Reads until EOF (the peer closes) or 10 s.
std::string ReadAll(int fd) {
  timeval timeout = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string text;
  char buffer[256];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) text.append(buffer, n);
  return text;
}

class ListenFdsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start(
        dir_.path(), {"--pool", ports_.Range(), "--cooldown=0s"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    client_ = std::make_unique<Client>(server_->address());
    env_ = {{"PORTLEASE_ADDR", server_->address()},
            {"COMPOSE_PROJECT_NAME", std::nullopt}};
  }

  std::unique_ptr<Process> StartLeaseRun(std::vector<std::string> args) {
    args.insert(args.begin(), LEASE_RUN_BIN);
    auto process = Process::Start(args, env_, dir_.path());
    EXPECT_TRUE(process.ok()) << process.status();
    return process.ok() ? *std::move(process) : nullptr;
  }

  // The port of "leased web=N" on lease-run's stderr, once printed (up to
  // Scaled(20 s)); 0 when it is not.
  static uint16_t LeasedPort(const Process& process) {
    const std::regex leased("leased web=([0-9]+)");
    const absl::Time deadline = absl::Now() + Scaled(absl::Seconds(20));
    while (absl::Now() < deadline) {
      std::smatch match;
      const std::string err = process.err();
      if (std::regex_search(err, match, leased)) {
        return static_cast<uint16_t>(std::stoi(match[1]));
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return 0;
  }

  size_t LeaseCount() {
    auto leases = client_->List();
    return leases.ok() ? leases->size() : 999;
  }

  LeasedPorts ports_{4};
  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<Client> client_;
  EnvChanges env_;
};

// A Python server takes fd 3 and checks the protocol's variables.
TEST_F(ListenFdsTest, PythonServerTakesTheSocket) {
  const std::string script = R"(
import os, socket
ok = (os.environ["LISTEN_PID"] == str(os.getpid())
      and os.environ["LISTEN_FDS"] == "2"
      and os.environ["LISTEN_FDNAMES"] == "web:admin")
server = socket.socket(fileno=3)
conn, _ = server.accept()
conn.sendall(b"protocol ok\n" if ok else repr(dict(os.environ)).encode())
conn.close()
)";
  auto lease_run = StartLeaseRun(
      {"--ports", "web,admin", "--listen-fds", "--", kPython, "-c", script});
  ASSERT_NE(lease_run, nullptr);
  const uint16_t port = LeasedPort(*lease_run);
  ASSERT_NE(port, 0) << lease_run->err();
  const int fd = LoopbackSocket(port, /*connect_to=*/true);
  ASSERT_GE(fd, 0) << strerror(-fd);
  EXPECT_EQ(ReadAll(fd), "protocol ok\n");
  close(fd);
  absl::StatusOr<int> code = lease_run->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << lease_run->err();
  EXPECT_EQ(LeaseCount(), 0u);
}

// systemd-socket-proxyd forwards the leased port to a backend of the test.
TEST_F(ListenFdsTest, SocketProxydForwardsTheLeasedPort) {
  if (access(kProxyd, X_OK) != 0) GTEST_SKIP() << kProxyd << " missing";
  const int backend = LoopbackSocket(0, /*connect_to=*/false);
  ASSERT_GE(backend, 0);
  ASSERT_EQ(listen(backend, 4), 0);
  sockaddr_in bound = {};
  socklen_t length = sizeof(bound);
  getsockname(backend, reinterpret_cast<sockaddr*>(&bound), &length);
  std::thread serve([backend] {
    pollfd p = {backend, POLLIN, 0};
    if (poll(&p, 1, 20000) != 1) return;
    const int conn = accept(backend, nullptr, nullptr);
    if (conn < 0) return;
    const char answer[] = "from the backend\n";
    (void)!write(conn, answer, sizeof(answer) - 1);
    close(conn);
  });
  auto lease_run =
      StartLeaseRun({"--ports", "web", "--listen-fds", "--", kProxyd,
                     absl::StrCat("127.0.0.1:", ntohs(bound.sin_port))});
  ASSERT_NE(lease_run, nullptr);
  const uint16_t port = LeasedPort(*lease_run);
  EXPECT_NE(port, 0) << lease_run->err();
  const int fd = port != 0 ? LoopbackSocket(port, /*connect_to=*/true) : -1;
  EXPECT_GE(fd, 0);
  if (fd >= 0) {
    EXPECT_EQ(ReadAll(fd), "from the backend\n") << lease_run->err();
    close(fd);
  }
  serve.join();
  close(backend);
  // lease-run forwards SIGTERM to the proxy's group.
  kill(lease_run->pid(), SIGTERM);
  absl::StatusOr<int> code = lease_run->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(LeaseCount(), 0u);
}

// The port is bound before the command starts: the command itself, and
// the test while it runs, cannot bind it.
TEST_F(ListenFdsTest, PortIsBoundBeforeTheCommandStarts) {
  const std::string stop = absl::StrCat(dir_.path(), "/stop");
  const std::string script = R"(
import errno, os, socket, sys, time
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(os.environ["WEB_PORT"])))
    print("bound")
except OSError as e:
    print(errno.errorcode[e.errno], flush=True)
for _ in range(400):
    if os.path.exists(sys.argv[1]):
        break
    time.sleep(0.05)
)";
  auto lease_run = StartLeaseRun(
      {"--ports", "web", "--listen-fds", "--", kPython, "-c", script, stop});
  ASSERT_NE(lease_run, nullptr);
  const uint16_t port = LeasedPort(*lease_run);
  ASSERT_NE(port, 0) << lease_run->err();
  EXPECT_EQ(LoopbackSocket(port, /*connect_to=*/false), -EADDRINUSE);
  WriteFile(stop, "");
  absl::StatusOr<int> code = lease_run->Wait(absl::Seconds(30));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << lease_run->err();
  EXPECT_EQ(lease_run->out(), "EADDRINUSE\n");
}

// An address that cannot be bound: one line naming the port, exit 1, the
// lease released, the command never started.
TEST_F(ListenFdsTest, BindFailureReleasesTheLease) {
  const std::string marker = absl::StrCat(dir_.path(), "/ran");
  RunResult result = RunBinary(
      {LEASE_RUN_BIN, "--ports", "web", "--listen-fds", "--listen-host",
       "192.0.2.1", "--", "/bin/sh", "-c", absl::StrCat("touch ", marker)},
      env_, dir_.path());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(
      result.err,
      ::testing::MatchesRegex(
          "lease-run: cannot bind 192\\.0\\.2\\.1:[0-9]+ \\(port web\\): "
          "Cannot assign requested address\n"));
  EXPECT_NE(access(marker.c_str(), F_OK), 0);
  EXPECT_EQ(LeaseCount(), 0u);
}

// README "Socket hand-off": its ```sh block, run as written.
TEST_F(ListenFdsTest, ReadmeBlockRuns) {
  const std::vector<std::string> block =
      ShBlockStartingWith(README_PATH, "lease-run --ports web --listen-fds");
  ASSERT_FALSE(block.empty()) << "no Socket hand-off block in README";
  std::string bin_dir = LEASE_RUN_BIN;
  bin_dir.resize(bin_dir.rfind('/'));
  env_["PATH"] = absl::StrCat(bin_dir, ":/usr/bin:/bin");
  RunResult result = RunBinary({"/bin/bash", "-ec", absl::StrJoin(block, "\n")},
                               env_, dir_.path());
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("web listening on ('127.0.0.1', "));
  EXPECT_EQ(LeaseCount(), 0u);
}

}  // namespace
}  // namespace portlease::testing
