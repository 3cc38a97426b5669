// The real portleased binary: crash recovery from its SQLite file, startup
// checks, the socket lock, signals and exit codes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "portlease/v1/portlease.grpc.pb.h"
#include "server/probe/system_prober.h"
#include "tests/server/daemon_process.h"
#include "tests/server/test_util.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

constexpr char kBinary[] = PORTLEASED_PATH;

std::string PoolFlag(const PortRange& range) {
  return absl::StrCat("--pool=", range.lo, "-", range.hi);
}

std::unique_ptr<v1::PortLease::Stub> Connect(const std::string& address) {
  return v1::PortLease::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

int ExitCode(std::optional<int> status) {
  if (!status.has_value() || !WIFEXITED(*status)) return -1;
  return WEXITSTATUS(*status);
}

TEST(PortleasedTest, AcknowledgedLeasesSurviveKill9) {
  TempDir dir;
  const PortRange pool = TestPoolRange(64);
  const std::vector<std::string> args = {
      "--listen=unix:" + dir.File("sock/portleased.sock"),
      "--db=" + dir.File("db/leases.db"), PoolFlag(pool), "--probe=none",
      "--cooldown=0s"};
  std::vector<v1::Lease> acked;
  {
    absl::StatusOr<DaemonProcess> daemon =
        DaemonProcess::Start(kBinary, args, dir.File("stderr1"));
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    ASSERT_TRUE(daemon->ready()) << daemon->Stderr();
    auto stub = Connect(daemon->addresses()[0]);
    for (int i = 0; i < 6; ++i) {
      v1::AcquireRequest request;
      if (i % 2 == 0) {
        request.add_names("db");
        request.add_names(absl::StrCat("app", i));
      } else {
        request.set_count(i);
      }
      request.mutable_ttl()->set_seconds(600);
      (*request.mutable_owner())["job"] = absl::StrCat(i);
      grpc::ClientContext context;
      SetDeadline(&context);
      v1::AcquireResponse response;
      grpc::Status status = stub->Acquire(&context, request, &response);
      ASSERT_TRUE(status.ok()) << status.error_message();
      acked.push_back(response.lease());
    }
    EXPECT_EQ(ExitCode(daemon->Stop(SIGKILL)), -1);  // killed, not exited
    EXPECT_THAT(daemon->Stderr(), HasSubstr("grant lease="));
    EXPECT_THAT(daemon->Stderr(),
                ::testing::Not(HasSubstr(acked[0].lease_id())));
  }

  absl::StatusOr<DaemonProcess> daemon =
      DaemonProcess::Start(kBinary, args, dir.File("stderr2"));
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  ASSERT_TRUE(daemon->ready()) << daemon->Stderr();
  auto stub = Connect(daemon->addresses()[0]);
  std::vector<bool> taken(65536, false);
  for (const v1::Lease& lease : acked) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::GetRequest request;
    request.set_lease_id(lease.lease_id());
    v1::GetResponse response;
    grpc::Status status = stub->Get(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.lease().base_port(), lease.base_port());
    EXPECT_EQ(response.lease().count(), lease.count());
    ASSERT_EQ(response.lease().ports_size(), lease.ports_size());
    for (int i = 0; i < lease.ports_size(); ++i) {
      EXPECT_EQ(response.lease().ports(i).name(), lease.ports(i).name());
      taken[lease.ports(i).port()] = true;
    }
    EXPECT_EQ(response.lease().owner().at("job"), lease.owner().at("job"));
  }
  // New grants fill the rest of the pool without touching the old leases.
  for (int i = 0; i < 64; ++i) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::AcquireRequest request;
    request.set_count(1);
    v1::AcquireResponse response;
    if (!stub->Acquire(&context, request, &response).ok()) break;
    EXPECT_FALSE(taken[response.lease().base_port()])
        << "port " << response.lease().base_port() << " granted twice";
    taken[response.lease().base_port()] = true;
  }
  EXPECT_EQ(ExitCode(daemon->Stop(SIGTERM)), 0) << daemon->Stderr();
  EXPECT_THAT(daemon->Stderr(), HasSubstr("shutting down"));
}

// The expiry a holder was told is a promise: a restart with a lower
// --max-ttl keeps it, and the new limit applies from the next renewal.
TEST(PortleasedTest, RestartWithLowerMaxTtlKeepsTheAcknowledgedExpiry) {
  TempDir dir;
  const PortRange pool = TestPoolRange(8);
  const std::vector<std::string> common = {
      "--listen=unix:" + dir.File("portleased.sock"),
      "--db=" + dir.File("leases.db"), PoolFlag(pool), "--probe=none"};
  v1::Lease granted;
  {
    std::vector<std::string> args = common;
    args.push_back("--max-ttl=24h");
    absl::StatusOr<DaemonProcess> daemon =
        DaemonProcess::Start(kBinary, args, dir.File("stderr1"));
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    ASSERT_TRUE(daemon->ready()) << daemon->Stderr();
    auto stub = Connect(daemon->addresses()[0]);
    v1::AcquireRequest request;
    request.set_count(1);
    request.mutable_ttl()->set_seconds(20);
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::AcquireResponse response;
    grpc::Status status = stub->Acquire(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    granted = response.lease();
    EXPECT_EQ(ExitCode(daemon->Stop(SIGTERM)), 0) << daemon->Stderr();
  }
  std::vector<std::string> args = common;
  args.push_back("--max-ttl=2s");
  args.push_back("--default-ttl=2s");
  absl::StatusOr<DaemonProcess> daemon =
      DaemonProcess::Start(kBinary, args, dir.File("stderr2"));
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  ASSERT_TRUE(daemon->ready()) << daemon->Stderr();
  auto stub = Connect(daemon->addresses()[0]);
  auto get = [&](v1::Lease* lease) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::GetRequest request;
    request.set_lease_id(granted.lease_id());
    v1::GetResponse response;
    grpc::Status status = stub->Get(&context, request, &response);
    *lease = response.lease();
    return status;
  };
  // Past the new maximum: still live, with the expiry it was granted.
  absl::SleepFor(absl::Seconds(3));
  v1::Lease kept;
  grpc::Status got = get(&kept);
  ASSERT_TRUE(got.ok()) << got.error_message() << "\n" << daemon->Stderr();
  EXPECT_EQ(kept.expires_at().seconds(), granted.expires_at().seconds());
  EXPECT_EQ(kept.state(), v1::LEASE_STATE_LIVE);

  // A renewal without a ttl gets today's maximum.
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::RenewRequest renew;
  renew.set_lease_id(granted.lease_id());
  v1::RenewResponse renewed;
  grpc::Status status = stub->Renew(&context, renew, &renewed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(renewed.lease().ttl().seconds(), 2);
  EXPECT_LE(renewed.lease().expires_at().seconds(),
            absl::ToUnixSeconds(absl::Now()) + 2);
}

TEST(PortleasedTest, PoolOverlappingTheEphemeralRangeIsRefusedOrTrimmed) {
  absl::StatusOr<PortRange> ephemeral = ReadEphemeralPortRange("/proc");
  if (!ephemeral.ok() || ephemeral->lo < 1100) {
    GTEST_SKIP() << "no usable ephemeral port range on this host";
  }
  TempDir dir;
  const PortRange overlapping = {static_cast<Port>(ephemeral->lo - 16),
                                 static_cast<Port>(ephemeral->lo + 15)};
  std::vector<std::string> args = {
      "--listen=unix:" + dir.File("portleased.sock"),
      "--db=:memory:", PoolFlag(overlapping), "--probe=none"};
  {
    absl::StatusOr<DaemonProcess> refused =
        DaemonProcess::Start(kBinary, args, dir.File("stderr1"));
    ASSERT_TRUE(refused.ok()) << refused.status();
    EXPECT_FALSE(refused->ready());
    EXPECT_EQ(ExitCode(refused->Wait()), 2);
    EXPECT_THAT(refused->Stderr(), HasSubstr("ephemeral port range"));
    EXPECT_THAT(refused->Stderr(), HasSubstr("--ephemeral=trim"));
  }
  args.push_back("--ephemeral=trim");
  absl::StatusOr<DaemonProcess> trimmed =
      DaemonProcess::Start(kBinary, args, dir.File("stderr2"));
  ASSERT_TRUE(trimmed.ok()) << trimmed.status();
  ASSERT_TRUE(trimmed->ready()) << trimmed->Stderr();
  auto stub = Connect(trimmed->addresses()[0]);
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::StatusResponse status;
  ASSERT_TRUE(stub->Status(&context, v1::StatusRequest(), &status).ok());
  EXPECT_LE(status.pool_size(), 16u);
  EXPECT_GT(status.pool_size(), 0u);
  EXPECT_EQ(ExitCode(trimmed->Stop(SIGTERM)), 0);
}

TEST(PortleasedTest, SecondServerOnTheSameSocketIsRefused) {
  TempDir dir;
  const std::string socket = dir.File("portleased.sock");
  const std::vector<std::string> args = {
      "--listen=unix:" + socket, "--db=:memory:", PoolFlag(TestPoolRange(8)),
      "--probe=none"};
  absl::StatusOr<DaemonProcess> first =
      DaemonProcess::Start(kBinary, args, dir.File("stderr1"));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->ready()) << first->Stderr();
  absl::StatusOr<DaemonProcess> second =
      DaemonProcess::Start(kBinary, args, dir.File("stderr2"));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->ready());
  EXPECT_EQ(ExitCode(second->Wait()), 1);
  EXPECT_THAT(second->Stderr(),
              HasSubstr(absl::StrCat("another portleased is serving unix:",
                                     socket, " (pid ", first->pid(), ")")));
  // The first one still serves.
  auto stub = Connect(first->addresses()[0]);
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::StatusResponse status;
  EXPECT_TRUE(stub->Status(&context, v1::StatusRequest(), &status).ok());
  EXPECT_EQ(ExitCode(first->Stop(SIGINT)), 0);
}

TEST(PortleasedTest, ListensOnLoopbackTcpPortZeroAndReportsThePort) {
  TempDir dir;
  absl::StatusOr<DaemonProcess> daemon = DaemonProcess::Start(
      kBinary,
      {"--listen=127.0.0.1:0", "--listen=unix:" + dir.File("s"),
       "--db=:memory:", PoolFlag(TestPoolRange(8)), "--probe=none"},
      dir.File("stderr"));
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  ASSERT_TRUE(daemon->ready()) << daemon->Stderr();
  ASSERT_EQ(daemon->addresses().size(), 2u);
  EXPECT_THAT(daemon->addresses()[0], ::testing::StartsWith("127.0.0.1:"));
  EXPECT_NE(daemon->addresses()[0], "127.0.0.1:0");
  for (const std::string& address : daemon->addresses()) {
    auto stub = Connect(address);
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::StatusResponse status;
    EXPECT_TRUE(stub->Status(&context, v1::StatusRequest(), &status).ok())
        << address;
  }
  EXPECT_EQ(ExitCode(daemon->Stop(SIGTERM)), 0);
}

TEST(PortleasedTest, BusyAddressFailsWithOneLineAndExitOne) {
  // A listener on a port the kernel picked stands in for "someone else".
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)),
            0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string busy = absl::StrCat("127.0.0.1:", ntohs(address.sin_port));
  TempDir dir;
  absl::StatusOr<DaemonProcess> daemon = DaemonProcess::Start(
      kBinary,
      {"--listen=" + busy, "--db=:memory:", PoolFlag(TestPoolRange(8)),
       "--probe=none"},
      dir.File("stderr"));
  close(fd);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  EXPECT_FALSE(daemon->ready());
  EXPECT_EQ(ExitCode(daemon->Wait()), 1);
  const std::string err = daemon->Stderr();
  EXPECT_THAT(err, HasSubstr("cannot listen on " + busy));
  EXPECT_THAT(err, HasSubstr("Address already in use"));
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

TEST(PortleasedTest, UsageErrorsExitWithTwo) {
  TempDir dir;
  const std::vector<std::vector<std::string>> cases = {
      {"--no_such_flag"},
      {"--pool=banana"},
      {"--listen=0.0.0.0:0", "--db=:memory:"},
      {"--ephemeral=maybe"},
      {"--default_ttl=forever"},
      {"positional"},
      // More connections than any open-file limit leaves room for.
      {"--max-connections=4000000000", "--db=:memory:"},
      {"--max-streams=0", "--db=:memory:"},
      {"--max-ports-per-owner=-5", "--db=:memory:"},
  };
  int i = 0;
  for (const std::vector<std::string>& args : cases) {
    const std::string log = dir.File(absl::StrCat("stderr", i++));
    absl::StatusOr<DaemonProcess> daemon =
        DaemonProcess::Start(kBinary, args, log);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    EXPECT_FALSE(daemon->ready()) << args[0];
    EXPECT_EQ(ExitCode(daemon->Wait()), 2) << args[0];
    const std::string err = daemon->Stderr();
    EXPECT_THAT(err, HasSubstr("portleased: ")) << args[0];
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    if (absl::StartsWith(args[0], "--max-")) {
      // Named as typed, with dashes.
      EXPECT_THAT(err, HasSubstr(args[0].substr(0, args[0].find('='))));
    }
  }
}

}  // namespace
}  // namespace portlease
