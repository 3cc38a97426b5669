// Runs tests/m2/m2_stack.sh (real redis-server + the m2_standin services)
// on ports leased from the suite's portleased, as lease-run would hand
// them out: no other test and no outgoing connection takes them meanwhile.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/m2/socket_io.h"
#include "testing/temp_dir.h"
#include "tests/support/test_ports.h"
#include "common/system/c_string_array.h"

extern char** environ;

namespace portlease::m2 {
namespace {

using ::testing::HasSubstr;
using ::portlease::testing::LeasedPorts;

constexpr const char* kPortVars[] = {"REDIS_PORT", "WORKER_PORT", "ORCH_PORT",
                                     "HEALTH_PORT", "METRICS_PORT"};
// Scaled by the build's time factor (sanitizers).
const absl::Duration kScriptTimeout =
    ::portlease::testing::Scaled(absl::Seconds(60));

bool OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::stringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (access(absl::StrCat(dir, "/", program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

// The stack's variables for five ports, as lease-run would export them.
std::map<std::string, std::string> StackEnv(const std::vector<uint16_t>& p) {
  EXPECT_EQ(p.size(), 5u);
  std::map<std::string, std::string> env;
  for (int i = 0; i < 5; ++i) env[kPortVars[i]] = absl::StrCat(p[i]);
  env["REDIS_URL"] = absl::StrCat("redis://127.0.0.1:", p[0]);
  env["M2_STANDIN"] = M2_STANDIN;
  return env;
}

using testing::TempDir;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A started child with its output in a file.
struct Child {
  pid_t pid = -1;
  std::unique_ptr<TempDir> dir;
  std::string log;
};

// Starts `argv` with the environment plus `env` (an empty value unsets),
// stdout and stderr to a log file in a fresh temp dir.
Child Start(const std::vector<std::string>& argv,
            const std::map<std::string, std::string>& env) {
  std::vector<std::string> vars;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string var = *e;
    if (!env.contains(var.substr(0, var.find('=')))) vars.push_back(var);
  }
  for (const auto& [key, value] : env) {
    if (!value.empty()) vars.push_back(absl::StrCat(key, "=", value));
  }
  const CStringArray c_env(std::move(vars));
  const CStringArray c_argv(argv);

  Child child;
  child.dir = std::make_unique<TempDir>();
  child.log = child.dir->path() + "/output.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, child.log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  const int rc = posix_spawn(&child.pid, c_argv[0], &actions, nullptr,
                             c_argv.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  EXPECT_EQ(rc, 0) << "posix_spawn " << argv[0];
  return child;
}

// Waits (bounded) for `child`; returns its exit code, or -1 if it had to be
// terminated. Appends its output to `*output`.
int Wait(const Child& child, std::string* output) {
  if (child.pid < 0) return -1;
  const absl::Time deadline = absl::Now() + kScriptTimeout;
  int status = 0;
  for (;;) {
    const pid_t done = waitpid(child.pid, &status, WNOHANG);
    if (done == child.pid) break;
    if (absl::Now() > deadline) {
      // SIGTERM lets the script stop what it started.
      kill(child.pid, SIGTERM);
      waitpid(child.pid, &status, 0);
      *output += ReadFile(child.log);
      ADD_FAILURE() << "timed out after " << kScriptTimeout;
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  *output += ReadFile(child.log);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int RunStack(const std::map<std::string, std::string>& env, std::string* output,
             const std::vector<std::string>& extra_args = {}) {
  std::vector<std::string> argv = {"/bin/bash", M2_STACK_SCRIPT};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  return Wait(Start(argv, env), output);
}

class M2StackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!OnPath("redis-server") || !OnPath("redis-cli")) {
      GTEST_SKIP()
          << "redis-server/redis-cli not installed (ci/install-deps.sh)";
    }
  }
};

TEST_F(M2StackTest, PassesOnLeasedPorts) {
  std::string output;
  const LeasedPorts ports(5);
  EXPECT_EQ(RunStack(StackEnv(ports.ports()), &output), 0) << output;
  EXPECT_THAT(output, HasSubstr("m2_stack: PASS"));
}

TEST_F(M2StackTest, TwoStacksRunSideBySide) {
  const LeasedPorts ports_a(5), ports_b(5);
  const Child a =
      Start({"/bin/bash", M2_STACK_SCRIPT}, StackEnv(ports_a.ports()));
  const Child b =
      Start({"/bin/bash", M2_STACK_SCRIPT}, StackEnv(ports_b.ports()));
  std::string out_a, out_b;
  EXPECT_EQ(Wait(a, &out_a), 0) << out_a;
  EXPECT_EQ(Wait(b, &out_b), 0) << out_b;
}

TEST_F(M2StackTest, UsesConfigsRenderedBeforehand) {
  // What `lease-run --render TEMPLATE:OUTPUT` does, done by m2_standin.
  const LeasedPorts ports(5);
  const std::map<std::string, std::string> env = StackEnv(ports.ports());
  const TempDir temp;
  const std::string& dir = temp.path();
  std::string output;
  const std::string configs = absl::StrCat(M2_CONFIG_DIR, "/");
  ASSERT_EQ(Wait(Start({M2_STANDIN, "render",
                        configs + "worker.yaml.in:" + dir + "/worker.yaml",
                        configs + "orchestrator.yaml.in:" + dir +
                            "/orchestrator.yaml"},
                       env),
                 &output),
            0)
      << output;
  EXPECT_THAT(ReadFile(dir + "/orchestrator.yaml"),
              HasSubstr(absl::StrCat("health_port: ", env.at("HEALTH_PORT"))));
  EXPECT_EQ(RunStack(env, &output, {"--configs", dir}), 0) << output;
}

TEST_F(M2StackTest, FailsCleanlyWhenALeasedPortIsTaken) {
  const LeasedPorts lease(5);
  const std::vector<uint16_t> ports = lease.ports();
  absl::StatusOr<Fd> squatter = ListenLoopback(ports[3]);  // HEALTH_PORT
  ASSERT_TRUE(squatter.ok()) << squatter.status();
  std::string output;
  EXPECT_EQ(RunStack(StackEnv(ports), &output), 1) << output;
  EXPECT_THAT(output, HasSubstr("orchestrator exited early"));
  EXPECT_THAT(output, HasSubstr(absl::StrCat("bind 127.0.0.1:", ports[3])));
}

TEST_F(M2StackTest, MissingPortVariableIsAUsageError) {
  const LeasedPorts ports(5);
  std::map<std::string, std::string> env = StackEnv(ports.ports());
  env["METRICS_PORT"] = "";  // Unset.
  std::string output;
  EXPECT_EQ(RunStack(env, &output), 2) << output;
  EXPECT_THAT(output, HasSubstr("METRICS_PORT must be a port"));
}

}  // namespace
}  // namespace portlease::m2
