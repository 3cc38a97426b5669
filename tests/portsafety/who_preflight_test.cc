// `portlease who` and `portlease preflight` against a listener process the
// test starts: the pid and command line they print are the listener's,
// with and without a server running.
#include <signal.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/test_support.h"
#include "tests/portsafety/portsafety_support.h"
#include "tests/support/test_ports.h"
#include "tests/server/daemon_process.h"

namespace portlease::portsafety {
namespace {

using testing::EnvChanges;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::Process;
using testing::RunBinary;
using testing::RunResult;

// host_test_listener on 127.0.0.1 (TCP) or UDP, started by the test.
struct Listener {
  std::unique_ptr<Process> process;
  Port port = 0;
  std::string command;  // its command line, as /proc shows it
};

Listener StartListener(const std::string& dir, bool udp) {
  Listener listener;
  std::vector<std::string> argv = {HOST_TEST_LISTENER_PATH};
  if (udp) argv.push_back("--udp");
  argv.push_back("0");
  listener.command = absl::StrJoin(argv, " ");
  absl::StatusOr<std::unique_ptr<Process>> process =
      Process::Start(argv, {}, dir);
  if (!process.ok()) {
    ADD_FAILURE() << process.status();
    return listener;
  }
  listener.process = *std::move(process);
  testing::PollUntil(
      [&] {
        const std::string out = listener.process->out();
        uint32_t port = 0;
        if (out.empty() || out.back() != '\n' ||
            !absl::SimpleAtoi(absl::StripSuffix(out, "\n"), &port)) {
          return false;
        }
        listener.port = static_cast<Port>(port);
        return true;
      },
      absl::Seconds(10));
  EXPECT_NE(listener.port, 0) << listener.process->err();
  return listener;
}

// An environment in which no portlease server can be found or started.
EnvChanges NoServer(const ScratchDir& dir) {
  return {{"PORTLEASE_ADDR", std::nullopt},
          {"PORTLEASE_SYSTEM_ADDR", "unix:" + dir.File("none/portleased.sock")},
          {"XDG_RUNTIME_DIR", dir.File("run")},
          {"XDG_STATE_HOME", dir.File("state")}};
}

class WhoPreflightTest : public ::testing::Test {
 protected:
  void SetUp() override {
    listener_ = StartListener(dir_.path(), /*udp=*/false);
    ASSERT_NE(listener_.port, 0);
    free_port_ = free_lease_.base();  // leased: nothing else binds it
  }

  RunResult Cli(const std::vector<std::string>& args, const EnvChanges& env) {
    std::vector<std::string> argv = {PORTLEASE_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunBinary(argv, env, dir_.path());
  }

  std::string HolderText() const {
    return absl::StrCat("pid ", listener_.process->pid(), " \"",
                        listener_.command, "\"");
  }

  ScratchDir dir_;
  Listener listener_;
  testing::LeasedPorts free_lease_{1};
  Port free_port_ = 0;
};

TEST_F(WhoPreflightTest, WhoWithoutAServerNamesTheListener) {
  RunResult who = Cli({"who", absl::StrCat(listener_.port)}, NoServer(dir_));
  EXPECT_EQ(who.exit_code, 0) << who.err;
  EXPECT_THAT(who.out, HasSubstr("local checks only"));
  EXPECT_THAT(who.out, HasSubstr(absl::StrCat("port ", listener_.port, "\n")));
  EXPECT_THAT(who.out, HasSubstr("tcp v4 127.0.0.1 LISTEN " + HolderText()));

  RunResult json = Cli({"who", "--format=json", absl::StrCat(listener_.port)},
                       NoServer(dir_));
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out,
              HasSubstr(absl::StrCat("\"pid\": ", listener_.process->pid())));

  RunResult free = Cli({"who", absl::StrCat(free_port_)}, NoServer(dir_));
  EXPECT_EQ(free.exit_code, 0) << free.err;
  EXPECT_THAT(free.out, HasSubstr(absl::StrCat("port ", free_port_,
                                               ", no local sockets")));
}

TEST_F(WhoPreflightTest, PreflightWithoutAServer) {
  RunResult busy = Cli(
      {"preflight", "--ports", absl::StrCat(listener_.port, ",", free_port_)},
      NoServer(dir_));
  EXPECT_EQ(busy.exit_code, 1) << busy.out << busy.err;
  EXPECT_THAT(busy.out, HasSubstr("local checks only"));
  EXPECT_THAT(busy.out, HasSubstr(absl::StrCat("port ", listener_.port,
                                               ": BUSY, bound by tcp v4 "
                                               "127.0.0.1 LISTEN ",
                                               HolderText())));
  EXPECT_THAT(busy.out, HasSubstr(absl::StrCat("suggestion: stop pid ",
                                               listener_.process->pid(), " (\"",
                                               listener_.command, "\")")));
  EXPECT_THAT(busy.out, HasSubstr(absl::StrCat("port ", free_port_, ": free")));
  EXPECT_THAT(busy.out, HasSubstr("1 of 2 ports busy"));

  RunResult free =
      Cli({"preflight", "--ports", absl::StrCat(free_port_)}, NoServer(dir_));
  EXPECT_EQ(free.exit_code, 0) << free.out << free.err;
  EXPECT_THAT(free.out, HasSubstr("all 1 ports free"));

  // Once the listener is gone, its port passes too.
  kill(listener_.process->pid(), SIGKILL);
  ASSERT_TRUE(listener_.process->Wait(absl::Seconds(10)).ok());
  RunResult after = Cli({"preflight", "--ports", absl::StrCat(listener_.port)},
                        NoServer(dir_));
  EXPECT_EQ(after.exit_code, 0) << after.out << after.err;
}

// A UDP socket conflicts only with a stack that uses UDP (--udp, or a
// profile with "udp": true); a TCP-only stack can use the port.
TEST_F(WhoPreflightTest, UdpSocketIsBusyOnlyForAUdpStack) {
  Listener udp = StartListener(dir_.path(), /*udp=*/true);
  ASSERT_NE(udp.port, 0);
  RunResult tcp_only =
      Cli({"preflight", "--ports", absl::StrCat(udp.port)}, NoServer(dir_));
  EXPECT_EQ(tcp_only.exit_code, 0) << tcp_only.out << tcp_only.err;
  RunResult busy = Cli({"preflight", "--udp", "--ports", absl::StrCat(udp.port)},
                       NoServer(dir_));
  EXPECT_EQ(busy.exit_code, 1) << busy.out << busy.err;
  EXPECT_THAT(busy.out, HasSubstr(absl::StrCat("udp v4 127.0.0.1 UNCONN pid ",
                                               udp.process->pid(), " \"",
                                               udp.command, "\"")));
  const std::string profile = dir_.File("udp.json");
  testing::WriteFile(profile, absl::StrCat(R"({"udp": true, "ports": [{"name": "dns", "defaultPort": )",
                                  udp.port, "}]}"));
  RunResult by_profile = Cli({"preflight", "--profile", profile}, NoServer(dir_));
  EXPECT_EQ(by_profile.exit_code, 1) << by_profile.out << by_profile.err;
}

// With a server whose pool holds the listener's port: the server's view
// (pool state) and the holder, and no "local checks only".
TEST_F(WhoPreflightTest, WithAServer) {
  const Port port = listener_.port;
  absl::StatusOr<DaemonProcess> daemon = DaemonProcess::Start(
      PORTLEASED_BIN,
      {"--listen=unix:" + dir_.File("s.sock"),
       "--db=:memory:", absl::StrCat("--pool=", port, "-", port),
       "--ephemeral=allow", "--probe=system", "--busy_backoff=60s"},
      dir_.File("portleased.err"));
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  ASSERT_TRUE(daemon->ready()) << daemon->Stderr();
  EnvChanges env = NoServer(dir_);
  env["PORTLEASE_ADDR"] = daemon->addresses()[0];

  // An Acquire finds the listener and backs off from the port.
  RunResult acquire = Cli({"acquire", "--count", "1", "--ttl", "30s"}, env);
  EXPECT_NE(acquire.exit_code, 0) << acquire.out;
  EXPECT_THAT(acquire.err, HasSubstr("1 bound by other processes"));

  RunResult who = Cli({"who", absl::StrCat(port)}, env);
  EXPECT_EQ(who.exit_code, 0) << who.err;
  EXPECT_THAT(who.out, Not(HasSubstr("local checks only")));
  EXPECT_THAT(who.out, HasSubstr(absl::StrCat("port ", port, ": busy\n")));
  EXPECT_THAT(who.out, HasSubstr("tcp v4 127.0.0.1 LISTEN " + HolderText()));

  RunResult preflight =
      Cli({"preflight", "--ports", absl::StrCat(port, ",", free_port_)}, env);
  EXPECT_EQ(preflight.exit_code, 1) << preflight.out << preflight.err;
  EXPECT_THAT(preflight.out, Not(HasSubstr("local checks only")));
  EXPECT_THAT(preflight.out, HasSubstr(absl::StrCat("port ", port, ": BUSY")));
  EXPECT_THAT(preflight.out, HasSubstr(HolderText()));
  EXPECT_THAT(preflight.out,
              HasSubstr(absl::StrCat("port ", free_port_, ": free")));
}

}  // namespace
}  // namespace portlease::portsafety
