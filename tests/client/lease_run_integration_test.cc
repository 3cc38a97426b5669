// lease-run against a real portleased.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <regex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "portlease/client.h"
#include "tests/client/test_support.h"
#include "common/system/c_string_array.h"

namespace portlease::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class LeaseRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start(
        dir_.path(), {"--pool", "20000-20007", "--hold_grace=500ms",
                      "--cooldown=0s"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    client_ = std::make_unique<Client>(server_->address());
    env_ = {{"PORTLEASE_ADDR", server_->address()},
            {"COMPOSE_PROJECT_NAME", std::nullopt}};
  }

  RunResult LeaseRun(std::vector<std::string> args) {
    args.insert(args.begin(), LEASE_RUN_BIN);
    return RunBinary(args, env_, dir_.path());
  }

  // Runs `argv` (with env_) as the leader of a new session whose
  // controlling terminal is a fresh pty, as a login shell would; returns
  // what it wrote there, once it exited 0. Bounded by 20 s.
  absl::StatusOr<std::string> RunOnTerminal(
      const std::vector<std::string>& argv) {
    const int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
      return absl::InternalError("no pty");
    }
    const std::string slave_path = ptsname(master);
    // Everything the child needs is built before the fork: this process
    // has threads, so the child may only make async-signal-safe calls.
    const CStringArray c_argv(argv);
    const CStringArray c_env(ChildEnvironment(env_));
    const pid_t pid = fork();
    if (pid < 0) return absl::InternalError("fork failed");
    if (pid == 0) {
      setsid();
      const int slave = open(slave_path.c_str(), O_RDWR);  // the new ctty
      if (slave < 0) _exit(120);
      for (int fd = 0; fd < 3; ++fd) dup2(slave, fd);
      execve(c_argv[0], c_argv.data(), c_env.data());
      _exit(121);
    }
    std::string output;
    auto drain = [&](int timeout_ms) {
      pollfd p = {master, POLLIN, 0};
      while (poll(&p, 1, timeout_ms) > 0) {
        char buffer[256];
        const ssize_t n = read(master, buffer, sizeof(buffer));
        if (n <= 0) break;
        output.append(buffer, static_cast<size_t>(n));
        timeout_ms = 0;
      }
    };
    int status = 0;
    bool finished = false;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (!finished && absl::Now() < deadline) {
      drain(100);
      finished = waitpid(pid, &status, WNOHANG) == pid;
    }
    if (!finished) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
    drain(0);
    close(master);
    if (!finished || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return absl::InternalError(
          absl::StrCat(finished ? "failed" : "did not finish in 20 s",
                       " on a pty; output: ", output));
    }
    return output;
  }

  size_t LeaseCount() {
    auto leases = client_->List();
    return leases.ok() ? leases->size() : 999;
  }

  // KEY=value lines to a map.
  static std::map<std::string, std::string> ParseEnv(const std::string& text) {
    std::map<std::string, std::string> vars;
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      std::pair<std::string, std::string> kv =
          absl::StrSplit(line, absl::MaxSplits('=', 1));
      vars[kv.first] = kv.second;
    }
    return vars;
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<Client> client_;
  EnvChanges env_;
};

TEST_F(LeaseRunTest, ExportsVariablesAndExitsWithChildStatus) {
  RunResult r = LeaseRun({"--ports", "redis,orch", "--", "/bin/sh", "-c",
                          "env; exit 3"});
  ASSERT_EQ(r.exit_code, 3) << r.err;
  auto vars = ParseEnv(r.out);
  int redis = 0, orch = 0;
  ASSERT_TRUE(absl::SimpleAtoi(vars["REDIS_PORT"], &redis)) << r.out;
  ASSERT_TRUE(absl::SimpleAtoi(vars["ORCH_PORT"], &orch));
  EXPECT_GE(redis, 20000);
  EXPECT_EQ(orch, redis + 1);
  EXPECT_EQ(vars["PORTLEASE_PORTS"], vars["REDIS_PORT"] + " " + vars["ORCH_PORT"]);
  EXPECT_EQ(vars["PORTLEASE_LEASE_ID"].size(), 32u);
  EXPECT_TRUE(std::regex_match(vars["COMPOSE_PROJECT_NAME"],
                               std::regex("[a-z0-9][a-z0-9_-]*")))
      << vars["COMPOSE_PROJECT_NAME"];
  EXPECT_EQ(LeaseCount(), 0u);  // released after the child exited
}

TEST_F(LeaseRunTest, KeepsAnExistingComposeProjectName) {
  env_["COMPOSE_PROJECT_NAME"] = "mine";
  RunResult r = LeaseRun({"--count", "1", "--", "/bin/sh", "-c", "env"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ParseEnv(r.out)["COMPOSE_PROJECT_NAME"], "mine");
  EXPECT_THAT(r.out, HasSubstr("PORT_0="));
}

TEST_F(LeaseRunTest, TwoRunsGetDistinctComposeProjects) {
  RunResult a = LeaseRun({"--count", "1", "--", "/bin/sh", "-c", "env"});
  RunResult b = LeaseRun({"--count", "1", "--", "/bin/sh", "-c", "env"});
  ASSERT_EQ(a.exit_code, 0);
  ASSERT_EQ(b.exit_code, 0);
  EXPECT_NE(ParseEnv(a.out)["COMPOSE_PROJECT_NAME"],
            ParseEnv(b.out)["COMPOSE_PROJECT_NAME"]);
}

TEST_F(LeaseRunTest, ChildKilledBySignalGives128PlusN) {
  EXPECT_EQ(LeaseRun({"--count", "1", "--", "/bin/sh", "-c", "kill -KILL $$"})
                .exit_code,
            128 + SIGKILL);
  EXPECT_EQ(LeaseRun({"--count", "1", "--", "/bin/sh", "-c", "kill -TERM $$"})
                .exit_code,
            128 + SIGTERM);
  EXPECT_EQ(LeaseCount(), 0u);
}

TEST_F(LeaseRunTest, ForwardsSigtermToTheChild) {
  const std::string ready = dir_.File("ready");
  const std::string got = dir_.File("got");
  auto p = Process::Start(
      {LEASE_RUN_BIN, "--count", "1", "--", "/bin/sh", "-c",
       "trap 'echo term > " + got + "; exit 7' TERM; echo x > " + ready +
           "; while :; do sleep 0.05; done"},
      env_, dir_.path());
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(PollUntil([&] { return !ReadFileOrEmpty(ready).empty(); },
                        absl::Seconds(10)));
  kill((*p)->pid(), SIGTERM);
  absl::StatusOr<int> code = (*p)->Wait(absl::Seconds(10));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 7) << (*p)->err();
  EXPECT_EQ(ReadFileOrEmpty(got), "term\n");
  EXPECT_EQ(LeaseCount(), 0u);
}

TEST_F(LeaseRunTest, SigkilledLeaseRunLosesItsLease) {
  const std::string pid_file = dir_.File("child.pid");
  auto p = Process::Start({LEASE_RUN_BIN, "--count", "2", "--", "/bin/sh",
                           "-c", "echo $$ > " + pid_file + "; exec sleep 30"},
                          env_, dir_.path());
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(PollUntil([&] { return !ReadFileOrEmpty(pid_file).empty(); },
                        absl::Seconds(10)));
  EXPECT_EQ(LeaseCount(), 1u);
  kill((*p)->pid(), SIGKILL);
  EXPECT_EQ(*(*p)->Wait(absl::Seconds(5)), 128 + SIGKILL);
  EXPECT_TRUE(PollUntil([&] { return LeaseCount() == 0; }, absl::Seconds(5)));
  int child = 0;
  if (absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadFileOrEmpty(pid_file)),
                       &child) &&
      child > 0) {
    kill(-child, SIGKILL);  // the orphaned child's own process group
  }
}

TEST_F(LeaseRunTest, LostLeaseTerminatesChildAndExits75) {
  const std::string id_file = dir_.File("id");
  auto p = Process::Start(
      {LEASE_RUN_BIN, "--count", "1", "--ttl", "3s", "--", "/bin/sh", "-c",
       "echo $PORTLEASE_LEASE_ID > " + id_file +
           "; while :; do sleep 0.05; done"},
      env_, dir_.path());
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(PollUntil([&] { return ReadFileOrEmpty(id_file).size() > 1; },
                        absl::Seconds(10)));
  const std::string id(absl::StripAsciiWhitespace(ReadFileOrEmpty(id_file)));
  ASSERT_TRUE(client_->Release(id).ok());
  absl::StatusOr<int> code = (*p)->Wait(absl::Seconds(10));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 75);
  EXPECT_THAT((*p)->err(), HasSubstr("lost"));
}

TEST_F(LeaseRunTest, RendersTemplates) {
  WriteFile(dir_.File("conf.in"),
            "port ${REDIS_PORT}\nname ${NAME:-dflt}\ncost $$5\n");
  RunResult r = LeaseRun({"--ports", "redis", "--render",
                          dir_.File("conf.in") + ":" + dir_.File("conf"), "--",
                          "/bin/sh", "-c", "echo $REDIS_PORT"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string port(absl::StripAsciiWhitespace(r.out));
  EXPECT_EQ(ReadFileOrEmpty(dir_.File("conf")),
            "port " + port + "\nname dflt\ncost $5\n");
}

// The env file is private, shell-quoted (a POSIX shell sources it back),
// named by PORTLEASE_ENV_FILE, and gone when the lease ends.
TEST_F(LeaseRunTest, EnvFileIsSourceableAndRemovedWithTheLease) {
  WriteFile(dir_.File("p.json"), R"({
    "ports": [{"name": "redis"}],
    "vars": [{"name": "QUOTED", "value": "it's ${REDIS_PORT} $HOME"}]
  })");
  RunResult r = LeaseRun(
      {"--profile", dir_.File("p.json"), "--env-file", dir_.File("lease.env"),
       "--", "/bin/sh", "-c",
       "stat -c %a \"$PORTLEASE_ENV_FILE\" && cat \"$PORTLEASE_ENV_FILE\" && "
       "env -i /bin/sh -c 'set -a; . \"$0\"; "
       "printf \"<%s>\\n\" \"$QUOTED\" \"$PORTLEASE_PORTS\"' "
       "\"$PORTLEASE_ENV_FILE\""});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines =
      absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines.front(), "600");
  std::string port;
  for (const std::string& line : lines) {
    if (absl::StartsWith(line, "REDIS_PORT='")) {
      port = line.substr(12, line.size() - 13);
    }
  }
  ASSERT_FALSE(port.empty()) << r.out;
  EXPECT_EQ(lines[lines.size() - 2], "<it's " + port + " $HOME>") << r.out;
  EXPECT_EQ(lines.back(), "<" + port + ">") << r.out;
  EXPECT_EQ(access(dir_.File("lease.env").c_str(), F_OK), -1)
      << "lease-run left its env file behind";
}

TEST_F(LeaseRunTest, RenderErrorNamesFileAndLineAndSkipsTheCommand) {
  WriteFile(dir_.File("bad.in"), "ok ${REDIS_PORT}\nbad ${NOT_SET_ANYWHERE}\n");
  RunResult r = LeaseRun({"--ports", "redis", "--render",
                          dir_.File("bad.in") + ":" + dir_.File("bad"), "--",
                          "/bin/sh", "-c", "echo ran"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("lease-run: "));
  EXPECT_THAT(r.err, HasSubstr("bad.in:2"));
  EXPECT_THAT(r.err, HasSubstr("NOT_SET_ANYWHERE"));
  EXPECT_THAT(r.out, Not(HasSubstr("ran")));
  EXPECT_EQ(LeaseCount(), 0u);
}

TEST_F(LeaseRunTest, ProfileExportsDerivedVariables) {
  RunResult r = LeaseRun({"--profile", M2_PROFILE, "--", "/bin/sh", "-c", "env"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto vars = ParseEnv(r.out);
  EXPECT_EQ(vars["REDIS_URL"], "redis://127.0.0.1:" + vars["REDIS_PORT"]);
  EXPECT_EQ(vars["WORKER_ADDR"], "grpc://127.0.0.1:" + vars["WORKER_PORT"]);
  EXPECT_EQ(vars["ORCH_WS_URL"], "ws://127.0.0.1:" + vars["ORCH_PORT"]);
  EXPECT_FALSE(vars["HEALTH_URL"].empty());
  EXPECT_FALSE(vars["METRICS_URL"].empty());
}

TEST_F(LeaseRunTest, ProfileErrors) {
  WriteFile(dir_.File("p.json"), "{\"ports\": [");
  RunResult syntax =
      LeaseRun({"--profile", dir_.File("p.json"), "--", "/bin/true"});
  EXPECT_EQ(syntax.exit_code, 2);
  EXPECT_THAT(syntax.err, HasSubstr("lease-run: " + dir_.File("p.json")));
  WriteFile(dir_.File("p.txtpb"), "ports { name: \"Bad Name\" }");
  RunResult invalid =
      LeaseRun({"--profile", dir_.File("p.txtpb"), "--", "/bin/true"});
  EXPECT_EQ(invalid.exit_code, 2);
  EXPECT_THAT(invalid.err, HasSubstr("bad port name"));
  EXPECT_EQ(LeaseRun({"--profile", dir_.File("none.json"), "--", "/bin/true"})
                .exit_code,
            2);
}

TEST_F(LeaseRunTest, UsageErrors) {
  RunResult missing = LeaseRun({"--count", "1"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("lease-run: missing command after --"));
  RunResult bad_name = LeaseRun({"--ports", "Redis", "--", "/bin/true"});
  EXPECT_EQ(bad_name.exit_code, 2);
  EXPECT_THAT(bad_name.err, HasSubstr("bad port name \"Redis\""));
  RunResult help = LeaseRun({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("SYNOPSIS"));
  RunResult not_found = LeaseRun({"--count", "1", "--", "/nonexistent/cmd"});
  EXPECT_EQ(not_found.exit_code, 127);
  EXPECT_THAT(not_found.err,
              HasSubstr("cannot run /nonexistent/cmd: No such file"));
}

TEST_F(LeaseRunTest, CommandThatCannotRunIs126) {
  // No execute permission (refused to root too).
  WriteFile(dir_.File("plain"), "#!/bin/sh\nexit 0\n");
  ASSERT_EQ(chmod(dir_.File("plain").c_str(), 0644), 0);
  RunResult denied = LeaseRun({"--count", "1", "--", dir_.File("plain")});
  EXPECT_EQ(denied.exit_code, 126);
  EXPECT_THAT(denied.err, HasSubstr("Permission denied"));
  // Executable, but neither a binary nor a #! script.
  WriteFile(dir_.File("noshebang"), "exit 0\n");
  ASSERT_EQ(chmod(dir_.File("noshebang").c_str(), 0755), 0);
  RunResult format = LeaseRun({"--count", "1", "--", dir_.File("noshebang")});
  EXPECT_EQ(format.exit_code, 126);
  EXPECT_THAT(format.err, HasSubstr("a script needs a #! line"));
  // The lease of a command that never ran is released.
  absl::StatusOr<std::vector<v1::Lease>> left = client_->List({});
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_TRUE(left->empty());
}

// On a terminal, the command runs in its own process group, and that group
// is the terminal's foreground (so Ctrl-C and job control reach it).
TEST_F(LeaseRunTest, CommandOwnsTheTerminal) {
  const std::string report =
      "set -- $(cat /proc/$$/stat); "
      "[ \"$5\" = \"$1\" ] && echo OWN-GROUP; "
      "[ \"$5\" = \"$8\" ] && echo FOREGROUND; true";
  absl::StatusOr<std::string> output = RunOnTerminal(
      {LEASE_RUN_BIN, "--count", "1", "--", "/bin/sh", "-c", report});
  ASSERT_TRUE(output.ok()) << output.status();
  EXPECT_THAT(*output, HasSubstr("OWN-GROUP"));
  EXPECT_THAT(*output, HasSubstr("FOREGROUND"));
}

// A command that cannot be started gives the terminal back: the shell that
// ran lease-run is in the foreground again.
TEST_F(LeaseRunTest, FailedCommandGivesTheTerminalBack) {
  const std::string script = absl::StrCat(
      LEASE_RUN_BIN, " --count 1 -- /nonexistent/cmd; echo \"exit $?\"; ",
      "set -- $(cat /proc/$$/stat); ",
      "[ \"$5\" = \"$8\" ] && echo SHELL-FOREGROUND; true");
  absl::StatusOr<std::string> output =
      RunOnTerminal({"/bin/sh", "-c", script});
  ASSERT_TRUE(output.ok()) << output.status();
  EXPECT_THAT(*output, HasSubstr("exit 127"));
  EXPECT_THAT(*output, HasSubstr("SHELL-FOREGROUND"));
}

TEST_F(LeaseRunTest, UnreachableServerNamesTheAddress) {
  env_["PORTLEASE_ADDR"] = "unix:" + dir_.File("nobody.sock");
  RunResult r = LeaseRun({"--count", "1", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 69);
  EXPECT_THAT(r.err, HasSubstr("lease-run: cannot reach portleased at unix:" +
                               dir_.File("nobody.sock")));
}

TEST_F(LeaseRunTest, PoolExhaustedThenWaitSucceeds) {
  AcquireSpec fill;
  fill.count = 8;
  fill.ttl = absl::Seconds(30);
  absl::StatusOr<v1::Lease> all = client_->Acquire(fill);
  ASSERT_TRUE(all.ok()) << all.status();
  RunResult busy = LeaseRun({"--count", "1", "--", "/bin/true"});
  EXPECT_EQ(busy.exit_code, 75);
  EXPECT_THAT(busy.err, HasSubstr("lease-run: pool exhausted: "));

  auto waiting = Process::Start(
      {LEASE_RUN_BIN, "--count", "1", "--wait", "20s", "--", "/bin/true"},
      env_, dir_.path());
  ASSERT_TRUE(waiting.ok());
  ASSERT_TRUE(PollUntil(
      [&] { return (*waiting)->err().find("waiting") != std::string::npos; },
      absl::Seconds(10)));
  ASSERT_TRUE(client_->Release(all->lease_id()).ok());
  absl::StatusOr<int> code = (*waiting)->Wait(absl::Seconds(15));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << (*waiting)->err();
}

// The state letter of /proc/PID/stat ('T' when stopped), or '?'.
char ProcessState(pid_t pid) {
  const std::string stat = ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/stat"));
  const size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size()
             ? '?'
             : stat[paren + 2];
}

// A cancelled CI job sends SIGINT or SIGTERM (SIGHUP when the terminal
// goes): the wait for ports ends at once, the queued request leaves the
// server, and no lease is granted when ports free up afterwards.
TEST_F(LeaseRunTest, SignalEndsTheWaitAndKeepsNoLease) {
  AcquireSpec fill;
  fill.count = 8;
  fill.ttl = absl::Seconds(60);
  absl::StatusOr<v1::Lease> all = client_->Acquire(fill);
  ASSERT_TRUE(all.ok()) << all.status();
  struct Case {
    std::vector<std::string> argv;
    int sig;
  };
  const std::vector<Case> cases = {
      {{LEASE_RUN_BIN, "--count", "1", "--wait", "60s", "--", "/bin/true"},
       SIGINT},
      {{LEASE_RUN_BIN, "--count", "1", "--wait", "60s", "--", "/bin/true"},
       SIGTERM},
      {{LEASE_RUN_BIN, "--count", "1", "--wait", "60s", "--", "/bin/true"},
       SIGHUP},
      {{PORTLEASE_BIN, "acquire", "--count", "1", "--ttl", "60s", "--wait",
        "60s"},
       SIGINT},
      {{PORTLEASE_BIN, "acquire", "--count", "1", "--ttl", "60s", "--wait",
        "60s"},
       SIGTERM},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.argv[0], " ", strsignal(c.sig)));
    auto waiting = Process::Start(c.argv, env_, dir_.path());
    ASSERT_TRUE(waiting.ok());
    ASSERT_TRUE(PollUntil(
        [&] { return (*waiting)->err().find("waiting") != std::string::npos; },
        absl::Seconds(10)))
        << (*waiting)->err();
    const absl::Time sent = absl::Now();
    kill((*waiting)->pid(), c.sig);
    absl::StatusOr<int> code = (*waiting)->Wait(absl::Seconds(5));
    ASSERT_TRUE(code.ok()) << "still waiting after the signal: "
                           << (*waiting)->err();
    std::printf("%s exited %d %s after %s\n", c.argv[0].c_str(), *code,
                absl::FormatDuration(absl::Now() - sent).c_str(),
                strsignal(c.sig));
    EXPECT_EQ(*code, 128 + c.sig) << (*waiting)->err();
    EXPECT_THAT((*waiting)->err(), HasSubstr("no lease kept"));
  }
  // The pool frees up: nothing that was cancelled gets it.
  ASSERT_TRUE(client_->Release(all->lease_id()).ok());
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(LeaseCount(), 0u);
}

// Ctrl-Z stops the command (SIGTSTP to its group): lease-run stops as a
// shell job would, and SIGCONT to lease-run (fg) continues both.
TEST_F(LeaseRunTest, StoppedCommandStopsLeaseRunAndContinueResumesBoth) {
  const std::string pid_file = dir_.File("child.pid");
  const std::string go = dir_.File("go");
  // One process (a shell loop would fork `sleep`: dash uses vfork, and a
  // vfork child stopped before its exec leaves the shell in 'D', never
  // stopped, so the command as a whole would not stop as a job).
  auto p = Process::Start(
      {LEASE_RUN_BIN, "--count", "1", "--", "/usr/bin/python3", "-c",
       absl::StrCat("import os, sys, time\n"
                    "open('", pid_file, "', 'w').write(str(os.getpid()))\n"
                    "while not os.path.exists('", go, "'):\n"
                    "    time.sleep(0.05)\n"
                    "sys.exit(4)\n")},
      env_, dir_.path());
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(PollUntil([&] { return !ReadFileOrEmpty(pid_file).empty(); },
                        absl::Seconds(10)));
  const pid_t child = std::stoi(ReadFileOrEmpty(pid_file));
  ASSERT_EQ(kill(-child, SIGTSTP), 0);
  EXPECT_TRUE(PollUntil([&] { return ProcessState((*p)->pid()) == 'T'; },
                        absl::Seconds(5)))
      << "lease-run did not stop with its command";
  EXPECT_EQ(ProcessState(child), 'T');
  ASSERT_EQ(kill((*p)->pid(), SIGCONT), 0);
  EXPECT_TRUE(PollUntil([&] { return ProcessState(child) != 'T'; },
                        absl::Seconds(5)))
      << "the command was not continued";
  WriteFile(go, "");
  absl::StatusOr<int> code = (*p)->Wait(absl::Seconds(10));
  ASSERT_TRUE(code.ok()) << (*p)->err();
  EXPECT_EQ(*code, 4) << (*p)->err();
  EXPECT_EQ(LeaseCount(), 0u);
}

}  // namespace
}  // namespace portlease::testing
