// Identity decides, not knowledge of an id, with the real binaries: a user
// who learned another user's lease id still may not renew or release it.
// The client runs as nobody (root and setpriv needed, as in CI; skipped
// otherwise).
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "portlease/v1/portlease.grpc.pb.h"
#include "tests/client/test_support.h"
#include "tests/server/daemon_process.h"
#include "tests/server/test_util.h"

namespace portlease {
namespace {

using ::portlease::testing::EnvChanges;
using ::portlease::testing::RunBinary;
using ::portlease::testing::RunResult;
using ::testing::HasSubstr;
using ::testing::Not;

class OtherUidTest : public ::testing::Test {
 protected:
  void SetUp() override {
    struct passwd* nobody = getpwnam("nobody");
    if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0 ||
        nobody == nullptr) {
      GTEST_SKIP() << "needs root, setpriv and a user nobody to run a "
                      "client as another uid";
    }
    nobody_uid_ = nobody->pw_uid;
    chmod(dir_.path().c_str(), 0755);
    mkdir(dir_.File("run").c_str(), 0755);
    mkdir(dir_.File("home").c_str(), 0777);
    chmod(dir_.File("home").c_str(), 0777);
    const PortRange pool = TestPoolRange(16);
    absl::StatusOr<DaemonProcess> started = DaemonProcess::Start(
        PORTLEASED_BIN,
        {"--listen=unix:" + socket_path(), "--db=" + dir_.File("leases.db"),
         absl::StrCat("--pool=", pool.lo, "-", pool.hi), "--probe=none",
         "--cooldown=0s"},
        dir_.File("stderr"));
    ASSERT_TRUE(started.ok()) << started.status();
    ASSERT_TRUE(started->ready()) << started->Stderr();
    daemon_.emplace(*std::move(started));
    // Everyone may connect: only identity keeps them apart.
    ASSERT_EQ(chmod(socket_path().c_str(), 0666), 0);
    stub_ = v1::PortLease::NewStub(grpc::CreateChannel(
        "unix:" + socket_path(), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (daemon_.has_value()) daemon_->Stop(SIGTERM);
  }
  std::string socket_path() const { return dir_.File("run/portleased.sock"); }
  RunResult RunAsNobody(std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/setpriv", "--reuid=nobody",
                                     "--regid=nogroup", "--clear-groups",
                                     "--", PORTLEASE_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    const EnvChanges env = {{"PORTLEASE_ADDR", "unix:" + socket_path()},
                            {"PORTLEASE_SYSTEM_ADDR", std::nullopt},
                            {"HOME", dir_.File("home")},
                            {"XDG_RUNTIME_DIR", dir_.File("home")},
                            {"XDG_STATE_HOME", dir_.File("home")},
                            {"XDG_CONFIG_HOME", dir_.File("home")},
                            {"PORTLEASE_CONNECT_TIMEOUT", "5s"}};
    return RunBinary(argv, env, dir_.File("home"));
  }
  absl::StatusOr<v1::Lease> Get(const std::string& id) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::GetRequest request;
    request.set_lease_id(id);
    v1::GetResponse response;
    grpc::Status status = stub_->Get(&context, request, &response);
    if (!status.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          status.error_message());
    }
    return response.lease();
  }

  TempDir dir_;
  uid_t nobody_uid_ = 0;
  std::optional<DaemonProcess> daemon_;
  std::unique_ptr<v1::PortLease::Stub> stub_;
};

TEST_F(OtherUidTest, KnowingTheIdIsNotEnoughToRenewOrRelease) {
  v1::AcquireRequest request;
  request.set_count(1);
  request.set_request_id("root-request");
  v1::AcquireResponse acquired;
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    ASSERT_TRUE(stub_->Acquire(&context, request, &acquired).ok());
  }
  const v1::Lease& lease = acquired.lease();

  RunResult renew = RunAsNobody({"renew", lease.lease_id(), "--ttl", "1h"});
  EXPECT_EQ(renew.exit_code, 77) << renew.err;
  EXPECT_THAT(renew.err,
              HasSubstr(absl::StrCat("belongs to uid:0; uid:", nobody_uid_,
                                     " may not renew it")));
  EXPECT_THAT(renew.err, HasSubstr("portlease admin force-release"));
  RunResult release = RunAsNobody({"release", lease.lease_id()});
  EXPECT_EQ(release.exit_code, 77) << release.err;
  EXPECT_THAT(release.err, HasSubstr("may not release it"));

  // Root's lease is as it was.
  absl::StatusOr<v1::Lease> kept = Get(lease.lease_id());
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->expires_at().seconds(), lease.expires_at().seconds());
  EXPECT_EQ(kept->request_id(), "root-request");

  // Nobody's own lease is nobody's to release.
  RunResult own = RunAsNobody({"acquire", "--count", "1", "--ttl", "60s",
                               "--format=env"});
  ASSERT_EQ(own.exit_code, 0) << own.err;
  const size_t at = own.out.find("PORTLEASE_LEASE_ID=");
  ASSERT_NE(at, std::string::npos) << own.out;
  size_t start = at + 19;
  if (start < own.out.size() && own.out[start] == '\'') ++start;
  const std::string id = own.out.substr(start, 32);
  EXPECT_EQ(RunAsNobody({"release", id}).exit_code, 0);

  daemon_->Stop(SIGTERM);
  const std::string log = daemon_->Stderr();
  EXPECT_THAT(log, HasSubstr(absl::StrCat("by=uid:", nobody_uid_)));
  EXPECT_THAT(log, HasSubstr("by=uid:0"));
  EXPECT_THAT(log, Not(HasSubstr(lease.lease_id())));
  daemon_.reset();
}

}  // namespace
}  // namespace portlease
