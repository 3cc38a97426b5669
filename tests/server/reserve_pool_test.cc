// --reserve-pool=on against the real kernel. ip_local_reserved_ports and
// ip_local_port_range belong to a network namespace, so each test first
// moves its process into a namespace of its own (ctest runs each test in a
// process of its own): the host's settings are never touched. That takes
// root; without it the tests are skipped, with the reason.
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/system/errno_status.h"
#include "common/system/files.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "portlease/v1/portlease.grpc.pb.h"
#include "server/daemon/reserved_ports.h"
#include "tests/server/daemon_process.h"
#include "tests/server/test_util.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

constexpr char kBinary[] = PORTLEASED_PATH;
constexpr char kPortRange[] = "/proc/sys/net/ipv4/ip_local_port_range";
constexpr char kToken[] = "0123456789abcdef-reserve-pool-token";

// Moves this process into a new network namespace, loopback up.
absl::Status EnterOwnNetworkNamespace() {
  if (unshare(CLONE_NEWNET) != 0) {
    return ErrnoStatus(errno, "unshare(CLONE_NEWNET)");
  }
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus(errno, "socket");
  absl::Cleanup close_fd = [fd] { close(fd); };
  struct ifreq ifr = {};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) return ErrnoStatus(errno, "lo");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) return ErrnoStatus(errno, "lo up");
  return absl::OkStatus();
}

// A sysctl file's new value.
absl::Status WriteProc(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value << std::flush;
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

std::string ReadProc(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  return text.ok() ? *text : std::string(text.status().message());
}

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

uint16_t LocalPort(int fd) {
  sockaddr_in bound = {};
  socklen_t length = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  return ntohs(bound.sin_port);
}

bool In(const PortRange& range, uint16_t port) {
  return port >= range.lo && port <= range.hi;
}

// Binds `count` TCP sockets to 127.0.0.1 port 0, one after the other (each
// closed before the next), and counts the ports the kernel picked in
// `range`. An error when a bind fails.
absl::StatusOr<int> CountBindsIn(const PortRange& range, int count) {
  int in_range = 0;
  for (int i = 0; i < count; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return ErrnoStatus(errno, "socket");
    const sockaddr_in any = Loopback(0);
    const bool bound =
        bind(fd, reinterpret_cast<const sockaddr*>(&any), sizeof(any)) == 0;
    const int err = errno;
    if (bound && In(range, LocalPort(fd))) ++in_range;
    close(fd);
    if (!bound) return ErrnoStatus(err, absl::StrCat("bind #", i));
  }
  return in_range;
}

// Connects `count` times to a listener on 127.0.0.1 and counts the source
// ports in `range`. Each connection is reset (SO_LINGER 0), so no TIME_WAIT
// keeps its port.
absl::StatusOr<int> CountConnectsIn(const PortRange& range, int count) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  absl::Cleanup close_listener = [listener] { close(listener); };
  const sockaddr_in any = Loopback(0);
  if (bind(listener, reinterpret_cast<const sockaddr*>(&any), sizeof(any)) !=
          0 ||
      listen(listener, 16) != 0) {
    return ErrnoStatus(errno, "listener");
  }
  const sockaddr_in target = Loopback(LocalPort(listener));
  int in_range = 0;
  for (int i = 0; i < count; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&target),
                sizeof(target)) != 0) {
      const int err = errno;
      close(fd);
      return ErrnoStatus(err, absl::StrCat("connect #", i));
    }
    if (In(range, LocalPort(fd))) ++in_range;
    const linger reset = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    close(fd);
    const int accepted = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (accepted >= 0) close(accepted);
  }
  return in_range;
}

class ReservePoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root: the test runs in a network namespace of "
                      "its own (unshare) and writes its sysctls";
    }
    absl::Status entered = EnterOwnNetworkNamespace();
    if (absl::IsPermissionDenied(entered)) {
      GTEST_SKIP() << "cannot create a network namespace (" << entered
                   << "): a container without CAP_SYS_ADMIN?";
    }
    ASSERT_TRUE(entered.ok()) << entered;
    // A fresh namespace: nothing reserved yet.
    ASSERT_EQ(ReadProc(kReservedPortsPath), "\n");
  }
};

TEST_F(ReservePoolTest, EphemeralPortsNeverLandInAReservedPool) {
  // The pool covers 90% of the ephemeral range: without the reservation,
  // most of 20,000 binds land in it.
  ASSERT_TRUE(WriteProc(kPortRange, "40000 40999").ok());
  const PortRange pool = {40000, 40899};
  constexpr int kBinds = 20000;
  absl::StatusOr<int> unreserved = CountBindsIn(pool, kBinds);
  ASSERT_TRUE(unreserved.ok()) << unreserved.status();
  EXPECT_GT(*unreserved, kBinds / 2);
  absl::StatusOr<int> unreserved_connects = CountConnectsIn(pool, 2000);
  ASSERT_TRUE(unreserved_connects.ok()) << unreserved_connects.status();
  EXPECT_GT(*unreserved_connects, 0);
  std::printf("without the reservation: %d of %d binds, %d of 2000 connects "
              "in the pool\n", *unreserved, kBinds, *unreserved_connects);

  ReservedPorts reserved;
  ASSERT_TRUE(reserved.Reserve({pool}).ok());
  EXPECT_EQ(ReadProc(kReservedPortsPath), "40000-40899\n");
  absl::StatusOr<int> in_pool = CountBindsIn(pool, kBinds);
  ASSERT_TRUE(in_pool.ok()) << in_pool.status();
  EXPECT_EQ(*in_pool, 0);
  absl::StatusOr<int> connects_in_pool = CountConnectsIn(pool, 2000);
  ASSERT_TRUE(connects_in_pool.ok()) << connects_in_pool.status();
  EXPECT_EQ(*connects_in_pool, 0);

  ASSERT_TRUE(reserved.Release().ok());
  EXPECT_EQ(ReadProc(kReservedPortsPath), "\n");
}

grpc::Status SetPool(const std::string& address, const std::string& pool) {
  auto stub = v1::PortLease::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  SetDeadline(&context);
  context.AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
  v1::SetPoolRequest request;
  request.set_pool(pool);
  v1::SetPoolResponse response;
  return stub->SetPool(&context, request, &response);
}

TEST_F(ReservePoolTest, PortleasedReservesItsPoolAndRemovesOnlyItsOwnRanges) {
  // Someone else's entries, one of them inside the pool.
  ASSERT_TRUE(WriteProc(kReservedPortsPath, "5000,40050").ok());
  TempDir dir;
  const std::string token = dir.File("token");
  ASSERT_TRUE(WriteProc(token, kToken).ok());
  chmod(token.c_str(), 0600);
  const std::vector<std::string> args = {
      "--listen=unix:" + dir.File("s.sock"), "--nodurable", "--probe=none",
      "--claims-dir=off", "--pool=40000-40099", "--ephemeral=allow",
      "--reserve-pool=on", "--admin-token-file=" + token};
  absl::StatusOr<DaemonProcess> daemon =
      DaemonProcess::Start(kBinary, args, dir.File("stderr"));
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  ASSERT_TRUE(daemon->ready()) << daemon->Stderr();
  EXPECT_EQ(ReadProc(kReservedPortsPath), "5000,40000-40099\n");

  // set-pool: the old pool's ports go (not 40050), the new pool's come.
  grpc::Status changed = SetPool(daemon->addresses()[0], "41000-41099");
  ASSERT_TRUE(changed.ok()) << changed.error_message();
  EXPECT_EQ(ReadProc(kReservedPortsPath), "5000,40050,41000-41099\n");

  std::optional<int> status = daemon->Stop(SIGTERM);
  ASSERT_TRUE(status.has_value() && WIFEXITED(*status) &&
              WEXITSTATUS(*status) == 0)
      << daemon->Stderr();
  EXPECT_EQ(ReadProc(kReservedPortsPath), "5000,40050\n");
  EXPECT_THAT(daemon->Stderr(), HasSubstr("removed 41000-41099 from"));
}

TEST_F(ReservePoolTest, AFailedStartLeavesNothingReserved) {
  TempDir dir;
  // --metrics-listen on a port this test holds: the start fails after the
  // pool was reserved.
  const int busy = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  absl::Cleanup close_busy = [busy] { close(busy); };
  const sockaddr_in any = Loopback(0);
  ASSERT_EQ(bind(busy, reinterpret_cast<const sockaddr*>(&any), sizeof(any)),
            0);
  ASSERT_EQ(listen(busy, 1), 0);
  const std::vector<std::string> args = {
      "--listen=unix:" + dir.File("s.sock"), "--nodurable", "--probe=none",
      "--claims-dir=off", "--pool=40000-40099", "--ephemeral=allow",
      "--reserve-pool=on",
      absl::StrCat("--metrics-listen=127.0.0.1:", LocalPort(busy))};
  absl::StatusOr<DaemonProcess> daemon =
      DaemonProcess::Start(kBinary, args, dir.File("stderr"));
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  EXPECT_FALSE(daemon->ready());
  daemon->Wait();
  EXPECT_THAT(daemon->Stderr(), HasSubstr("reserved the pool"));
  EXPECT_EQ(ReadProc(kReservedPortsPath), "\n") << daemon->Stderr();
}

TEST_F(ReservePoolTest, ARestartAfterKill9RemovesWhatTheCrashedRunAdded) {
  ASSERT_TRUE(WriteProc(kReservedPortsPath, "5000").ok());
  TempDir dir;
  const std::vector<std::string> args = {
      "--listen=unix:" + dir.File("s.sock"), "--db=" + dir.File("leases.db"),
      "--probe=none", "--claims-dir=off", "--pool=40000-40099",
      "--ephemeral=allow", "--reserve-pool=on"};
  {
    absl::StatusOr<DaemonProcess> daemon =
        DaemonProcess::Start(kBinary, args, dir.File("stderr1"));
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    ASSERT_TRUE(daemon->ready()) << daemon->Stderr();
    daemon->Stop(SIGKILL);
  }
  EXPECT_EQ(ReadProc(kReservedPortsPath), "5000,40000-40099\n");
  absl::StatusOr<DaemonProcess> daemon =
      DaemonProcess::Start(kBinary, args, dir.File("stderr2"));
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  ASSERT_TRUE(daemon->ready()) << daemon->Stderr();
  std::optional<int> status = daemon->Stop(SIGTERM);
  ASSERT_TRUE(status.has_value() && WIFEXITED(*status) &&
              WEXITSTATUS(*status) == 0)
      << daemon->Stderr();
  EXPECT_EQ(ReadProc(kReservedPortsPath), "5000\n") << daemon->Stderr();
}

}  // namespace
}  // namespace portlease
