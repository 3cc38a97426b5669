// The real portleased binary's security flags: plaintext TCP beyond
// loopback refused at start, the admin token file, and peer credentials
// through the installed socket path.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "portlease/v1/portlease.grpc.pb.h"
#include "tests/server/daemon_process.h"
#include "tests/server/test_util.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kBinary[] = PORTLEASED_PATH;
constexpr char kToken[] = "portleased-admin-token-for-tests";

std::vector<std::string> BaseArgs(const TempDir& dir) {
  const PortRange pool = TestPoolRange(16);
  return {"--listen=unix:" + dir.File("portleased.sock"), "--db=:memory:",
          absl::StrCat("--pool=", pool.lo, "-", pool.hi), "--probe=none"};
}

std::optional<int> ExitCode(DaemonProcess& daemon) {
  std::optional<int> status = daemon.Wait();
  if (!status.has_value() || !WIFEXITED(*status)) return std::nullopt;
  return WEXITSTATUS(*status);
}

TEST(PortleasedSecurityTest, PlaintextTcpBeyondLoopbackIsRefusedAtStart) {
  TempDir dir;
  std::vector<std::string> args = BaseArgs(dir);
  args.push_back("--listen=0.0.0.0:0");
  absl::StatusOr<DaemonProcess> daemon =
      DaemonProcess::Start(kBinary, args, dir.File("stderr"));
  ASSERT_TRUE(daemon.ok());
  EXPECT_FALSE(daemon->ready());
  EXPECT_EQ(ExitCode(*daemon), 2);
  EXPECT_THAT(daemon->Stderr(), HasSubstr("no TLS"));
  EXPECT_THAT(daemon->Stderr(), HasSubstr("--insecure-tcp"));
}

TEST(PortleasedSecurityTest, TlsFlagsGoTogether) {
  TempDir dir;
  std::vector<std::string> args = BaseArgs(dir);
  args.push_back("--tls_cert=" + dir.File("missing.pem"));
  absl::StatusOr<DaemonProcess> daemon =
      DaemonProcess::Start(kBinary, args, dir.File("stderr"));
  ASSERT_TRUE(daemon.ok());
  EXPECT_EQ(ExitCode(*daemon), 2);
  EXPECT_THAT(daemon->Stderr(), HasSubstr("--tls-key"));
}

TEST(PortleasedSecurityTest, UnsafeAdminTokenFileIsRefused) {
  TempDir dir;
  const std::string token_file = dir.File("token");
  std::ofstream(token_file) << kToken;
  chmod(token_file.c_str(), 0644);
  std::vector<std::string> args = BaseArgs(dir);
  args.push_back("--admin_token_file=" + token_file);
  absl::StatusOr<DaemonProcess> daemon =
      DaemonProcess::Start(kBinary, args, dir.File("stderr"));
  ASSERT_TRUE(daemon.ok());
  EXPECT_EQ(ExitCode(*daemon), 1);
  EXPECT_THAT(daemon->Stderr(), HasSubstr("chmod 0600"));
  EXPECT_THAT(daemon->Stderr(), Not(HasSubstr(kToken)));
}

TEST(PortleasedSecurityTest, AdminTokenFileGuardsForceRelease) {
  TempDir dir;
  const std::string token_file = dir.File("token");
  std::ofstream(token_file) << kToken << "\n";
  chmod(token_file.c_str(), 0600);
  std::vector<std::string> args = BaseArgs(dir);
  args.push_back("--admin_token_file=" + token_file);
  absl::StatusOr<DaemonProcess> daemon =
      DaemonProcess::Start(kBinary, args, dir.File("stderr"));
  ASSERT_TRUE(daemon.ok());
  ASSERT_TRUE(daemon->ready()) << daemon->Stderr();
  auto stub = v1::PortLease::NewStub(grpc::CreateChannel(
      daemon->addresses()[0], grpc::InsecureChannelCredentials()));
  v1::AcquireRequest acquire;
  acquire.set_count(1);
  v1::AcquireResponse acquired;
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    ASSERT_TRUE(stub->Acquire(&context, acquire, &acquired).ok());
  }
  EXPECT_EQ(acquired.lease().owner().at("peer_uid"), absl::StrCat(getuid()));
  v1::ForceReleaseRequest request;
  request.set_lease_id_prefix(acquired.lease().lease_id_prefix());
  v1::ForceReleaseResponse response;
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    context.AddMetadata("authorization", "Bearer not-the-token");
    EXPECT_EQ(stub->ForceRelease(&context, request, &response).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    context.AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
    grpc::Status status = stub->ForceRelease(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  daemon->Stop(SIGTERM);
  const std::string log = daemon->Stderr();
  EXPECT_THAT(log, HasSubstr("admin=token"));
  EXPECT_THAT(log, HasSubstr("force-release lease="));
  EXPECT_THAT(log, Not(HasSubstr(kToken)));
}

}  // namespace
}  // namespace portlease
