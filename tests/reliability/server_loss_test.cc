// The real binaries when the server is missing, stalled, forbidden or
// killed:
//   - a system socket directory without its socket (systemd restarting the
//     service) is waited for under the connect deadline; no private server
//     starts;
//   - a system socket whose server is stopped (SIGSTOP), or that refuses
//     this user (socket or directory mode, a uid outside the group), is an
//     error naming the socket and the fix; no private server starts;
//   - lease-run whose server is killed and not restarted prints the loss
//     line and exits 75 within the hold grace + 1 s;
//   - with --on-lease-loss=warn the command keeps running, and when the
//     server comes back on the same database the lease is held again;
//   - a server killed and restarted within the hold grace costs lease-run
//     nothing: its Hold stream attaches again by itself;
//   - a command that ends while the server is down: lease-run says it could
//     not release, and the restarted server ends the lease after a grace.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "portlease/client.h"
#include "tests/client/test_support.h"
#include "tests/server/daemon_process.h"
#include "tests/support/test_ports.h"

namespace portlease::testing {
namespace {

using ::testing::HasSubstr;

// portleased's default --hold_grace.
constexpr absl::Duration kHoldGrace = absl::Seconds(2);

// What lease-run did after its server was killed (KillServerUnderLeaseRun).
struct LossResult {
  int code = -1;
  std::string err;
  absl::Duration took;
};

class ServerLossTest : public ::testing::Test {
 protected:
  // Starts portleased on DIR/run/portleased.sock with a database in DIR.
  void StartServer(const std::vector<std::string>& extra_args = {}) {
    mkdir(dir_.File("run").c_str(), 0755);
    std::vector<std::string> args = {
        "--listen=unix:" + socket_path(), "--db=" + dir_.File("leases.db"),
        "--pool=21200-21215", "--probe=none", "--cooldown=0s"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    absl::StatusOr<DaemonProcess> started = DaemonProcess::Start(
        PORTLEASED_BIN, args,
        dir_.File(absl::StrCat("stderr", starts_++)),
        Scaled(absl::Seconds(20)));
    ASSERT_TRUE(started.ok()) << started.status();
    ASSERT_TRUE(started->ready()) << started->Stderr();
    daemon_.emplace(*std::move(started));
  }
  std::string socket_path() const { return dir_.File("run/portleased.sock"); }
  std::string address() const { return "unix:" + socket_path(); }

  // The environment of a client with no PORTLEASE_ADDR, whose system
  // socket is ours and whose private server would live in DIR/xdg.
  EnvChanges SystemEnv() const {
    return {{"PORTLEASE_ADDR", std::nullopt},
            {"PORTLEASE_SYSTEM_ADDR", address()},
            {"XDG_RUNTIME_DIR", dir_.File("xdg")},
            {"XDG_STATE_HOME", dir_.File("xdg/state")},
            {"HOME", dir_.File("xdg")},
            {"PORTLEASE_SERVER_BIN", PORTLEASED_BIN},
            {"PORTLEASE_CONNECT_TIMEOUT", "1s"},
            {"COMPOSE_PROJECT_NAME", std::nullopt}};
  }
  bool PrivateServerStarted() const {
    struct stat st;
    return stat(dir_.File("xdg/portlease/portleased.sock").c_str(), &st) == 0 ||
           stat(dir_.File("xdg/state/portlease").c_str(), &st) == 0;
  }

  // Starts `lease-run --count 1 FLAGS -- sh` whose command waits for the
  // file go() and then exits 3.
  absl::StatusOr<std::unique_ptr<Process>> StartLeaseRunUntilGo(
      const std::vector<std::string>& flags, EnvChanges env = {}) {
    env["PORTLEASE_ADDR"] = address();
    env["COMPOSE_PROJECT_NAME"] = std::nullopt;
    std::vector<std::string> argv = {LEASE_RUN_BIN, "--count", "1"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.insert(argv.end(),
                {"--", "sh", "-c",
                 absl::StrCat("while [ ! -e ", go(),
                              " ]; do sleep 0.05; done; exit 3")});
    return Process::Start(argv, env, dir_.path());
  }
  std::string go() const { return dir_.File("go"); }

  // Starts lease-run holding a lease here, kills this server with -9 (not
  // restarted) and waits up to `bound` for lease-run to exit.
  LossResult KillServerUnderLeaseRun(absl::Duration bound);

  size_t LiveLeases() {
    ClientOptions options;
    options.connect_timeout = absl::ZeroDuration();
    options.rpc_timeout = Scaled(absl::Seconds(2));
    Client client(address(), options);
    absl::StatusOr<std::vector<v1::Lease>> leases = client.List();
    if (!leases.ok()) return 0;
    size_t live = 0;
    for (const v1::Lease& lease : *leases) {
      if (lease.state() == v1::LEASE_STATE_LIVE) ++live;
    }
    return live;
  }

  TempDir dir_;
  int starts_ = 0;
  std::optional<DaemonProcess> daemon_;
};

TEST_F(ServerLossTest, StalledSystemServerIsAnErrorNotAPrivateServer) {
  StartServer();
  ASSERT_TRUE(StopProcess(daemon_->pid()).ok());
  const absl::Time start = absl::Now();
  RunResult acquire = RunBinary(
      {PORTLEASE_BIN, "acquire", "--count", "1", "--ttl", "60s"}, SystemEnv(),
      dir_.path());
  RunResult run = RunBinary({LEASE_RUN_BIN, "--count", "1", "--", "true"},
                            SystemEnv(), dir_.path());
  const absl::Duration took = absl::Now() - start;
  kill(daemon_->pid(), SIGCONT);
  for (const RunResult* r : {&acquire, &run}) {
    EXPECT_EQ(r->exit_code, 69) << r->err;
    EXPECT_THAT(r->err, HasSubstr(socket_path()));
    EXPECT_THAT(r->err, HasSubstr("systemctl status portleased"));
  }
  EXPECT_LT(took, Scaled(absl::Seconds(8)));
  EXPECT_FALSE(PrivateServerStarted());
}

TEST_F(ServerLossTest, RestartingSystemServerIsWaitedFor) {
  // systemd keeps the service's runtime directory across a restart; the
  // socket appears when the new server listens.
  ASSERT_EQ(mkdir(dir_.File("run").c_str(), 0755), 0);
  EnvChanges env = SystemEnv();
  env["PORTLEASE_CONNECT_TIMEOUT"] =
      absl::FormatDuration(Scaled(absl::Seconds(20)));
  absl::StatusOr<std::unique_ptr<Process>> run = Process::Start(
      {LEASE_RUN_BIN, "--count", "1", "--", "true"}, env, dir_.path());
  ASSERT_TRUE(run.ok()) << run.status();
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_FALSE((*run)->Wait(absl::ZeroDuration()).ok())
      << "lease-run gave up at once: " << (*run)->err();
  StartServer();
  absl::StatusOr<int> code = (*run)->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << (*run)->err();
  EXPECT_EQ(*code, 0) << (*run)->err();
  EXPECT_FALSE(PrivateServerStarted());
}

// Root passes every permission check: the client runs as nobody.
class ForbiddenSocketTest : public ServerLossTest {
 protected:
  void SetUp() override {
    if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0) {
      GTEST_SKIP() << "needs root and setpriv to run a client as nobody";
    }
    chmod(dir_.path().c_str(), 0755);
    mkdir(dir_.File("xdg").c_str(), 0777);
    chmod(dir_.File("xdg").c_str(), 0777);
    StartServer();
  }
  RunResult RunAsNobody(std::vector<std::string> argv) {
    argv.insert(argv.begin(), {"/usr/bin/setpriv", "--reuid=nobody",
                               "--regid=nogroup", "--clear-groups", "--"});
    return RunBinary(argv, SystemEnv(), dir_.File("xdg"));
  }
  void ExpectRefused() {
    for (const RunResult& r :
         {RunAsNobody({PORTLEASE_BIN, "acquire", "--count", "1", "--ttl",
                       "60s"}),
          RunAsNobody({LEASE_RUN_BIN, "--count", "1", "--", "true"})}) {
      EXPECT_EQ(r.exit_code, 69) << r.err;
      EXPECT_THAT(r.err, HasSubstr(socket_path()));
      EXPECT_THAT(r.err, HasSubstr("join group"));
    }
    EXPECT_FALSE(PrivateServerStarted());
    EXPECT_EQ(LiveLeases(), 0u);
  }
};

TEST_F(ForbiddenSocketTest, SocketModeRefusesUser) {
  ASSERT_EQ(chmod(socket_path().c_str(), 0600), 0);
  ExpectRefused();
}

TEST_F(ForbiddenSocketTest, SocketDirectoryModeRefusesUser) {
  ASSERT_EQ(chmod(dir_.File("run").c_str(), 0700), 0);
  ExpectRefused();
}

// Replicas whose sockets all refuse the user: refused at once (not after
// the connect timeout), each socket and the group to join named.
TEST_F(ForbiddenSocketTest, ReplicasThatAllRefuseTheUserAreNotWaitedFor) {
  ASSERT_EQ(chmod(socket_path().c_str(), 0600), 0);
  // A second address of the same socket.
  const std::string second = dir_.File("run/second.sock");
  ASSERT_EQ(symlink(socket_path().c_str(), second.c_str()), 0);
  EnvChanges env = SystemEnv();
  env["PORTLEASE_ADDR"] = absl::StrCat(address(), ",unix:", second);
  env["PORTLEASE_CONNECT_TIMEOUT"] = "30s";
  const absl::Time start = absl::Now();
  const RunResult r = RunBinary(
      {"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup",
       "--clear-groups", "--", LEASE_RUN_BIN, "--count", "1", "--", "true"},
      env, dir_.File("xdg"));
  EXPECT_LT(absl::Now() - start, Scaled(absl::Seconds(5)));
  EXPECT_EQ(r.exit_code, 69) << r.err;
  EXPECT_THAT(r.err, HasSubstr("every address refuses this user"));
  EXPECT_THAT(r.err, HasSubstr(socket_path()));
  EXPECT_THAT(r.err, HasSubstr("join its group"));
  EXPECT_EQ(LiveLeases(), 0u);
}

LossResult ServerLossTest::KillServerUnderLeaseRun(absl::Duration bound) {
  EnvChanges env = {{"PORTLEASE_ADDR", address()},
                    {"COMPOSE_PROJECT_NAME", std::nullopt}};
  absl::StatusOr<std::unique_ptr<Process>> run = Process::Start(
      {LEASE_RUN_BIN, "--count", "1", "--connect-timeout", "1s", "--",
       "sleep", "60"},
      env, dir_.path());
  LossResult result;
  if (!run.ok()) {
    ADD_FAILURE() << run.status();
    return result;
  }
  if (!PollUntil([&] { return LiveLeases() == 1; }, absl::Seconds(10))) {
    ADD_FAILURE() << "no live lease: " << (*run)->err();
    return result;
  }
  const absl::Time killed = absl::Now();
  daemon_->Stop(SIGKILL);
  absl::StatusOr<int> code = (*run)->Wait(bound);  // scaled by Wait
  result.took = absl::Now() - killed;
  result.err = (*run)->err();
  if (!code.ok()) {
    ADD_FAILURE() << "lease-run still running " << result.took
                  << " after the kill: " << result.err;
    return result;
  }
  result.code = *code;
  std::printf("lease-run exited %d %s after the kill\n", *code,
              absl::FormatDuration(result.took).c_str());
  return result;
}

TEST_F(ServerLossTest, LeaseRunReportsALostServerAndExits75) {
  StartServer();
  const LossResult lost =
      KillServerUnderLeaseRun(kHoldGrace + absl::Seconds(1));
  EXPECT_EQ(lost.code, 75) << lost.err;
  EXPECT_THAT(lost.err, HasSubstr("unreachable"));
  EXPECT_THAT(lost.err, HasSubstr("terminating sleep"));
}

TEST_F(ServerLossTest, LeaseRunUsesTheServersHoldGrace) {
  StartServer({"--hold_grace=4s"});
  const LossResult lost = KillServerUnderLeaseRun(absl::Seconds(4 + 1));
  EXPECT_EQ(lost.code, 75) << lost.err;
  EXPECT_THAT(lost.err, HasSubstr("unreachable for 4s"));
  // The server keeps the lease for its grace: so does the client.
  EXPECT_GE(lost.took, absl::Seconds(4));
}

TEST_F(ServerLossTest, WarnKeepsTheCommandAndHoldsAgainAfterRestart) {
  // A lease held when the server died is kept one hold grace after the
  // restart: long enough here for lease-run to reconnect on a loaded
  // machine.
  const std::vector<std::string> grace = {"--hold-grace=8s"};
  StartServer(grace);
  absl::StatusOr<std::unique_ptr<Process>> run =
      StartLeaseRunUntilGo({"--on-lease-loss=warn"});
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_TRUE(PollUntil([&] { return LiveLeases() == 1; }, absl::Seconds(10)));
  daemon_->Stop(SIGKILL);
  daemon_.reset();
  // How soon "lost" is said is LeaseRunReportsALostServerAndExits75's
  // business; this test is about what follows, so its bounds are loose.
  ASSERT_TRUE(PollUntil(
      [&] { return (*run)->err().find("lost") != std::string::npos; },
      kHoldGrace + absl::Seconds(15)))
      << (*run)->err();
  EXPECT_THAT((*run)->err(), HasSubstr("still running sh"));
  // Still running.
  EXPECT_FALSE((*run)->Wait(absl::Milliseconds(200)).ok());

  StartServer(grace);
  ASSERT_TRUE(PollUntil(
      [&] { return (*run)->err().find("held again") != std::string::npos; },
      absl::Seconds(20)))
      << (*run)->err();
  EXPECT_EQ(LiveLeases(), 1u);
  WriteFile(go(), "");
  absl::StatusOr<int> code = (*run)->Wait(absl::Seconds(10));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 3) << (*run)->err();
  EXPECT_TRUE(PollUntil([&] { return LiveLeases() == 0; }, absl::Seconds(5)));
}

TEST_F(ServerLossTest, ServerRestartedWithinTheGraceKeepsLeaseRunsLease) {
  // kill -9 and a restart on the same socket and database, as a supervisor
  // does. lease-run's own waiting must carry the reconnection through: gRPC
  // reads a new connection's first frames only while someone waits on the
  // channel, or else from its backup poller, every 5 s by default (a
  // minute here, so that the poller cannot rescue a Hold loop that merely
  // sleeps between attempts; the grace is wide for a slow restart).
  const std::vector<std::string> grace = {"--hold-grace=4s"};
  StartServer(grace);
  absl::StatusOr<std::unique_ptr<Process>> run = StartLeaseRunUntilGo(
      {}, {{"GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "60000"}});
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_TRUE(PollUntil([&] { return LiveLeases() == 1; }, absl::Seconds(10)));
  daemon_->Stop(SIGKILL);
  daemon_.reset();
  StartServer(grace);
  // The restarted server reclaims a lease whose holder does not attach
  // within one grace of its start; lease-run gives up one grace after the
  // kill. Past both, the lease is there and the command still runs.
  absl::SleepFor(absl::Seconds(4) + absl::Milliseconds(500));
  EXPECT_EQ(LiveLeases(), 1u) << (*run)->err() << daemon_->Stderr();
  EXPECT_FALSE((*run)->Wait(absl::Milliseconds(100)).ok()) << (*run)->err();
  EXPECT_THAT((*run)->err(), ::testing::Not(HasSubstr("lost")));
  WriteFile(go(), "");
  absl::StatusOr<int> code = (*run)->Wait(absl::Seconds(10));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 3) << (*run)->err();
  EXPECT_TRUE(PollUntil([&] { return LiveLeases() == 0; }, absl::Seconds(5)));
}

TEST_F(ServerLossTest, CommandEndingWhileTheServerIsDownSaysSoAndTheLeaseEnds) {
  // The command ends within the grace of a kill -9: lease-run cannot
  // release, and says so in one line; the restarted server ends the lease
  // one grace after its start, as that line says.
  const std::vector<std::string> grace = {"--hold-grace=3s"};
  StartServer(grace);
  absl::StatusOr<std::unique_ptr<Process>> run = StartLeaseRunUntilGo({});
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_TRUE(PollUntil([&] { return LiveLeases() == 1; }, absl::Seconds(10)));
  daemon_->Stop(SIGKILL);
  daemon_.reset();
  WriteFile(go(), "");
  absl::StatusOr<int> code = (*run)->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << (*run)->err();
  EXPECT_EQ(*code, 3) << (*run)->err();
  EXPECT_THAT((*run)->err(), HasSubstr(" not released: "));
  EXPECT_THAT((*run)->err(), HasSubstr("one hold grace after it is back"));
  EXPECT_THAT((*run)->err(), ::testing::Not(HasSubstr("lost")));
  StartServer(grace);
  EXPECT_TRUE(
      PollUntil([&] { return LiveLeases() == 0; }, absl::Seconds(3 + 10)));
}

}  // namespace
}  // namespace portlease::testing
