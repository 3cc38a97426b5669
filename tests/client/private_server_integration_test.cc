// The private (embedded) server as a managed per-user daemon, with the real
// binaries: the line lease-run prints when it starts one, `portlease server
// status|stop`, --idle_exit, the environment it runs with, and its flags
// from the config file or PORTLEASE_SERVER_ARGS. Each test has its own
// XDG_RUNTIME_DIR/XDG_STATE_HOME/XDG_CONFIG_HOME, so it never meets a real
// user's server, and a pool leased from the suite's server.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/embedded_server.h"
#include "tests/client/test_support.h"
#include "tests/support/test_ports.h"

namespace portlease::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A private world for one test: directories, environment, and on
// destruction the private server stopped (SIGKILL by its recorded pid, if
// `portlease server stop --force` did not end it).
class PrivateWorld {
 public:
  explicit PrivateWorld(const LeasedPorts& ports)
      : pool_(ports.Range()),
        runtime_(dir_.File("run")),
        state_(dir_.File("state")),
        config_(dir_.File("config")) {
    env_ = {{"PORTLEASE_ADDR", std::nullopt},
            {"PORTLEASE_SYSTEM_ADDR", "unix:" + dir_.File("none/portleased.sock")},
            {"PORTLEASE_SERVER_BIN", std::nullopt},
            {"PORTLEASE_SERVER_ARGS", std::nullopt},
            {"XDG_RUNTIME_DIR", runtime_},
            {"XDG_STATE_HOME", state_},
            {"XDG_CONFIG_HOME", config_}};
  }
  ~PrivateWorld() {
    RunBinary({PORTLEASE_BIN, "server", "stop", "--force"}, env_, dir_.path());
    absl::StatusOr<EmbeddedPid> pid = ReadEmbeddedPidFile(pid_file());
    if (pid.ok() && IsEmbeddedServerProcess(*pid)) kill(pid->pid, SIGKILL);
  }

  EnvChanges& env() { return env_; }
  const std::string& dir() const { return dir_.path(); }
  const std::string& pool() const { return pool_; }
  std::string socket() const { return runtime_ + "/portlease/portleased.sock"; }
  std::string pid_file() const { return runtime_ + "/portlease/portleased.pid"; }
  std::string log_file() const { return state_ + "/portlease/portleased.log"; }
  std::string database() const { return state_ + "/portlease/leases.db"; }
  std::string config_file() const {
    return config_ + "/portlease/portleased.conf";
  }
  void WriteConfig(const std::string& text) {
    RunBinary({"/bin/mkdir", "-p", config_ + "/portlease"}, {}, dir());
    WriteFile(config_file(), text);
  }
  // The running server's pid from its pid file; 0 when none runs.
  pid_t ServerPid() const {
    absl::StatusOr<EmbeddedPid> pid = ReadEmbeddedPidFile(pid_file());
    return pid.ok() && IsEmbeddedServerProcess(*pid) ? pid->pid : 0;
  }
  RunResult Run(const std::vector<std::string>& argv) {
    return RunBinary(argv, env_, dir());
  }

 private:
  TempDir dir_;
  std::string pool_;
  std::string runtime_;
  std::string state_;
  std::string config_;
  EnvChanges env_;
};

std::vector<std::string> LinesWith(const std::string& text,
                                   absl::string_view what) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StrContains(line, what)) lines.emplace_back(line);
  }
  return lines;
}

bool Exited(pid_t pid) {
  return pid == 0 || kill(pid, 0) != 0 ||
         ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/stat")).find(") Z") !=
             std::string::npos;
}

TEST(PrivateServerTest, StartLineStatusAndStop) {
  LeasedPorts ports(4);
  PrivateWorld world(ports);
  world.WriteConfig(absl::StrCat("# the pool of this host's jobs\n--pool=",
                                 world.pool(), "\n\n--log_level=debug\n"));
  // No PORTLEASE_SERVER_BIN: lease-run finds portleased next to itself.
  RunResult first = world.Run(
      {LEASE_RUN_BIN, "--count", "1", "--", "/bin/sh", "-c",
       "echo $PORTLEASE_PORTS"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  std::vector<std::string> start_lines =
      LinesWith(first.err, "started a private portleased");
  ASSERT_EQ(start_lines.size(), 1u) << first.err;
  const std::string& line = start_lines[0];
  EXPECT_THAT(line, HasSubstr("lease-run: "));
  EXPECT_THAT(line, HasSubstr("socket " + world.socket()));
  EXPECT_THAT(line, HasSubstr("database " + world.database()));
  EXPECT_THAT(line, HasSubstr("log " + world.log_file()));
  EXPECT_THAT(line, HasSubstr("exits after 15m idle"));
  EXPECT_THAT(line, HasSubstr("stop it with: portlease server stop"));
  // The config file's pool.
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(first.out), &port))
      << first.out;
  EXPECT_GE(port, ports.base());
  EXPECT_LT(port, ports.base() + 4);
  const pid_t pid = world.ServerPid();
  ASSERT_GT(pid, 1);
  EXPECT_THAT(line, HasSubstr(absl::StrCat("pid ", pid)));

  RunResult second = world.Run({LEASE_RUN_BIN, "--count", "1", "--", "/bin/true"});
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_THAT(second.err, Not(HasSubstr("started a private portleased")));

  RunResult status = world.Run({PORTLEASE_BIN, "server", "status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("private server: running\n"));
  EXPECT_THAT(status.out, HasSubstr(absl::StrCat("pid:            ", pid, "\n")));
  EXPECT_THAT(status.out, HasSubstr("socket:         " + world.socket()));
  EXPECT_THAT(status.out, HasSubstr("database:       " + world.database()));
  EXPECT_THAT(status.out, HasSubstr("log:            " + world.log_file()));
  EXPECT_THAT(status.out, HasSubstr("flags from:     " + world.config_file()));
  EXPECT_THAT(status.out, HasSubstr("live leases:    0\n"));
  EXPECT_THAT(status.out, HasSubstr("pool size:      4\n"));
  RunResult json = world.Run({PORTLEASE_BIN, "server", "status", "--format=json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr(absl::StrCat("\"pid\": ", pid)));
  EXPECT_THAT(json.out, HasSubstr("\"live_leases\": 0"));

  RunResult stop = world.Run({PORTLEASE_BIN, "server", "stop"});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_THAT(stop.out, HasSubstr(absl::StrCat("stopped the private portleased (pid ", pid, ")")));
  EXPECT_TRUE(Exited(pid));
  EXPECT_EQ(ReadFileOrEmpty(world.pid_file()), "");

  RunResult after = world.Run({PORTLEASE_BIN, "server", "status"});
  EXPECT_EQ(after.exit_code, 3) << after.out << after.err;
  EXPECT_THAT(after.out, HasSubstr("private server: not running"));
  RunResult again = world.Run({PORTLEASE_BIN, "server", "stop"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("no private server runs"));
}

// A loaded host can make a running private server answer later than a
// client's probe waits: the clients wait for it. Before, lease-run tried to
// start a second server (which refused: the socket is taken) and failed,
// and `portlease release` said no server answers.
TEST(PrivateServerTest, ALiveServerThatIsSlowToAnswerIsWaitedFor) {
  LeasedPorts ports(8);
  PrivateWorld world(ports);
  world.WriteConfig(absl::StrCat("--pool=", world.pool(), "\n"));
  RunResult acquired = world.Run({PORTLEASE_BIN, "acquire", "--count", "1",
                                  "--ttl", "5m", "--format=env"});
  ASSERT_EQ(acquired.exit_code, 0) << acquired.err;
  std::vector<std::string> id_line =
      LinesWith(acquired.out, "PORTLEASE_LEASE_ID='");
  ASSERT_EQ(id_line.size(), 1u) << acquired.out;
  const std::string lease_id(absl::StripSuffix(
      absl::StripPrefix(id_line[0], "PORTLEASE_LEASE_ID='"), "'"));
  const pid_t pid = world.ServerPid();
  ASSERT_GT(pid, 1);

  ASSERT_TRUE(StopProcess(pid).ok());
  absl::StatusOr<std::unique_ptr<Process>> run = Process::Start(
      {LEASE_RUN_BIN, "--count", "1", "--", "/bin/true"}, world.env(),
      world.dir());
  ASSERT_TRUE(run.ok()) << run.status();
  absl::StatusOr<std::unique_ptr<Process>> release = Process::Start(
      {PORTLEASE_BIN, "release", lease_id}, world.env(), world.dir());
  ASSERT_TRUE(release.ok()) << release.status();
  // Three times the probe's deadline: both would have failed by now.
  EXPECT_FALSE((*run)->Wait(absl::Milliseconds(1500)).ok()) << (*run)->err();
  EXPECT_FALSE((*release)->Wait(absl::Milliseconds(10)).ok())
      << (*release)->err();
  ASSERT_EQ(kill(pid, SIGCONT), 0);

  absl::StatusOr<int> ran = (*run)->Wait(absl::Seconds(20));
  ASSERT_TRUE(ran.ok());
  EXPECT_EQ(*ran, 0) << (*run)->err();
  EXPECT_THAT((*run)->err(), Not(HasSubstr("started a private portleased")));
  absl::StatusOr<int> released = (*release)->Wait(absl::Seconds(20));
  ASSERT_TRUE(released.ok());
  EXPECT_EQ(*released, 0) << (*release)->err();
  EXPECT_EQ(world.ServerPid(), pid);
}

TEST(PrivateServerTest, StopRefusesWhileLeasesAreLiveUnlessForced) {
  LeasedPorts ports(2);
  PrivateWorld world(ports);
  world.env()["PORTLEASE_SERVER_ARGS"] = "--pool=" + world.pool();
  RunResult acquire = world.Run(
      {PORTLEASE_BIN, "acquire", "--count", "1", "--ttl", "10m", "--format=env"});
  ASSERT_EQ(acquire.exit_code, 0) << acquire.err;
  EXPECT_EQ(LinesWith(acquire.err, "portlease: started a private portleased").size(), 1u)
      << acquire.err;
  const pid_t pid = world.ServerPid();
  ASSERT_GT(pid, 1);

  RunResult refused = world.Run({PORTLEASE_BIN, "server", "stop"});
  EXPECT_EQ(refused.exit_code, 75) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("1 live lease(s)"));
  EXPECT_THAT(refused.err, HasSubstr("--force"));
  EXPECT_EQ(LinesWith(refused.err, "portlease:").size(), 1u);
  EXPECT_FALSE(Exited(pid));

  RunResult forced = world.Run({PORTLEASE_BIN, "server", "stop", "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_THAT(forced.out, HasSubstr("with 1 live lease(s)"));
  EXPECT_TRUE(Exited(pid));
}

TEST(PrivateServerTest, ExitsWhenIdle) {
  LeasedPorts ports(2);
  PrivateWorld world(ports);
  world.env()["PORTLEASE_SERVER_ARGS"] =
      absl::StrCat("--pool=", world.pool(), "  --idle_exit=1s");
  // While a lease is held (its Hold stream open), the server stays.
  const std::string marker = world.dir() + "/running";
  absl::StatusOr<std::unique_ptr<Process>> held = Process::Start(
      {LEASE_RUN_BIN, "--count", "1", "--", "/bin/sh", "-c",
       "touch " + marker + "; exec sleep 60"},
      world.env(), world.dir());
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_TRUE(PollUntil([&] { return access(marker.c_str(), F_OK) == 0; },
                        absl::Seconds(20)))
      << (*held)->err();
  const pid_t pid = world.ServerPid();
  ASSERT_GT(pid, 1);
  EXPECT_THAT((*held)->err(), HasSubstr("exits after 1s idle"));
  absl::SleepFor(absl::Milliseconds(2500));
  EXPECT_FALSE(Exited(pid)) << "exited with a lease held";
  // The lease ends: a second later the server exits by itself.
  ASSERT_EQ(kill((*held)->pid(), SIGTERM), 0);
  absl::StatusOr<int> code = (*held)->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_TRUE(PollUntil([&] { return Exited(pid); }, absl::Seconds(20)))
      << ReadFileOrEmpty(world.log_file());
  EXPECT_THAT(ReadFileOrEmpty(world.log_file()),
              HasSubstr("shutting down: idle for 1s"));
  RunResult status = world.Run({PORTLEASE_BIN, "server", "status"});
  EXPECT_EQ(status.exit_code, 3) << status.out;
}

TEST(PrivateServerTest, StartsWithACleanEnvironmentInItsOwnSession) {
  LeasedPorts ports(2);
  PrivateWorld world(ports);
  world.env()["PORTLEASE_SERVER_ARGS"] = "--pool=" + world.pool();
  world.env()["SECRET_TOKEN"] = "hunter2";
  world.env()["RUNNER_TRACKING_ID"] = "github_1234";
  world.env()["LD_PRELOAD"] = "";
  world.env()["LANG"] = "C.UTF-8";
  RunResult run = world.Run({LEASE_RUN_BIN, "--count", "1", "--", "/bin/true"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const pid_t pid = world.ServerPid();
  ASSERT_GT(pid, 1);
  const std::string environ =
      ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/environ"));
  ASSERT_FALSE(environ.empty());
  std::set<std::string> names;
  for (absl::string_view item :
       absl::StrSplit(environ, '\0', absl::SkipEmpty())) {
    std::string name(item.substr(0, item.find('=')));
    names.insert(name);
    EXPECT_TRUE(name == "PATH" || name == "HOME" || name == "LANG" ||
                absl::StartsWith(name, "LC_") || absl::StartsWith(name, "XDG_"))
        << "the private server inherited " << name;
  }
  EXPECT_EQ(names.count("SECRET_TOKEN"), 0u);
  EXPECT_EQ(names.count("XDG_RUNTIME_DIR"), 1u);
  EXPECT_EQ(names.count("LANG"), 1u);
  // Its own session; stdin and stdout /dev/null, stderr the log.
  EXPECT_NE(getsid(pid), getsid(0));
  auto fd_target = [pid](int fd) {
    char buf[4096];
    const std::string link = absl::StrCat("/proc/", pid, "/fd/", fd);
    const ssize_t n = readlink(link.c_str(), buf, sizeof(buf));
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  };
  EXPECT_EQ(fd_target(0), "/dev/null");
  EXPECT_EQ(fd_target(1), "/dev/null");
  EXPECT_EQ(fd_target(2), world.log_file());
}

TEST(PrivateServerTest, RefusedFlagsFailTheClientNamingTheFile) {
  LeasedPorts ports(2);
  PrivateWorld world(ports);
  world.WriteConfig(absl::StrCat("--pool=", world.pool(), "\n--no_such_flag=1\n"));
  RunResult run = world.Run({LEASE_RUN_BIN, "--count", "1", "--", "/bin/true"});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  EXPECT_THAT(run.err, HasSubstr("no_such_flag"));
  EXPECT_THAT(run.err, HasSubstr(world.config_file()));
  EXPECT_EQ(world.ServerPid(), 0);

  // A line that is no flag, and a flag the client sets itself.
  world.WriteConfig("pool=20000-20009\n");
  run = world.Run({LEASE_RUN_BIN, "--count", "1", "--", "/bin/true"});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  EXPECT_THAT(run.err, HasSubstr(world.config_file() + ":1:"));
  world.env()["PORTLEASE_SERVER_ARGS"] = "--listen=127.0.0.1:0";
  run = world.Run({LEASE_RUN_BIN, "--count", "1", "--", "/bin/true"});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_THAT(run.err, HasSubstr("PORTLEASE_SERVER_ARGS: --listen is set by the client"));
}

}  // namespace
}  // namespace portlease::testing
