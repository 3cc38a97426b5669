// The embedded default server: first use by 8 concurrent lease-runs starts
// exactly one private portleased. Finding a server costs no connection of
// its own: the client that follows uses the one the probe made.
#include <signal.h>
#include <unistd.h>

#include <filesystem>

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "portlease/address.h"
#include "portlease/client.h"
#include "tests/client/test_support.h"

namespace portlease::testing {
namespace {

size_t CountOccurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// The sockets process `pid` has open ("socket:[INODE]").
std::set<std::string> Sockets(pid_t pid) {
  std::set<std::string> sockets;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(
           absl::StrCat("/proc/", pid, "/fd"), error)) {
    std::string target = std::filesystem::read_symlink(entry.path(), error);
    if (!error && absl::StartsWith(target, "socket:")) sockets.insert(target);
  }
  return sockets;
}

TEST(ResolveServerAddressTest, TheClientUsesTheConnectionTheProbeMade) {
  TempDir dir;
  auto server = TestServer::Start(dir.path(), {"--pool", "20000-20003"});
  ASSERT_TRUE(server.ok()) << server.status();
  ResolveOptions options;
  const std::string system = (*server)->address();
  options.environment = [&system](absl::string_view name)
      -> std::optional<std::string> {
    if (name == "PORTLEASE_SYSTEM_ADDR") return system;
    return std::nullopt;
  };
  const std::set<std::string> before = Sockets((*server)->pid());
  absl::StatusOr<ResolvedAddress> where = ResolveServerAddress(options);
  ASSERT_TRUE(where.ok()) << where.status();
  EXPECT_EQ(where->source, ResolvedAddress::Source::kSystem);
  ASSERT_NE(where->connection, nullptr);
  // The probe's connection is open at the server, and it is the one the
  // next client's calls go over: the server accepts no other.
  ASSERT_TRUE(PollUntil(
      [&] { return Sockets((*server)->pid()).size() == before.size() + 1; },
      absl::Seconds(10)));
  const std::set<std::string> probed = Sockets((*server)->pid());
  Client client(where->addresses);
  // Answered: any connection it made is accepted by now.
  ASSERT_TRUE(client.Status(absl::Seconds(10)).ok());
  EXPECT_EQ(Sockets((*server)->pid()), probed);
}

TEST(EmbeddedServerTest, ConcurrentFirstUseStartsOneDaemon) {
  TempDir dir;
  const std::string runtime = dir.File("run");
  const std::string state = dir.File("state");
  EnvChanges env = {{"PORTLEASE_ADDR", std::nullopt},
                    {"PORTLEASE_SYSTEM_ADDR", "unix:" + dir.File("none/portleased.sock")},
                    {"XDG_RUNTIME_DIR", runtime},
                    {"XDG_STATE_HOME", state},
                    {"PORTLEASE_SERVER_BIN", PORTLEASED_BIN}};
  constexpr int kRuns = 8;
  std::vector<std::unique_ptr<Process>> runs;
  for (int i = 0; i < kRuns; ++i) {
    auto p = Process::Start(
        {LEASE_RUN_BIN, "--count", "2", "--", "/bin/sh", "-c",
         absl::StrCat("echo $PORTLEASE_LEASE_ID > ", dir.File("id"), i,
                      "; sleep 0.5")},
        env, dir.path());
    ASSERT_TRUE(p.ok());
    runs.push_back(*std::move(p));
  }
  std::set<std::string> ids;
  for (int i = 0; i < kRuns; ++i) {
    absl::StatusOr<int> code = runs[i]->Wait(absl::Seconds(30));
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 0) << runs[i]->err();
    ids.insert(std::string(absl::StripAsciiWhitespace(
        ReadFileOrEmpty(absl::StrCat(dir.File("id"), i)))));
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRuns));
  EXPECT_EQ(ids.count(""), 0u);

  // One start line ("INFO portleased VERSION serving ..."; other lines may
  // say "serving" too, e.g. a portserver address another server serves).
  const std::string log = ReadFileOrEmpty(state + "/portlease/portleased.log");
  EXPECT_EQ(CountOccurrences(log, "INFO portleased "), 1u) << log;
  // The pid file: "PID START_TIME".
  int pid = 0;
  const std::string pid_file =
      ReadFileOrEmpty(runtime + "/portlease/portleased.pid");
  ASSERT_TRUE(absl::SimpleAtoi(pid_file.substr(0, pid_file.find(' ')), &pid))
      << pid_file;
  ASSERT_GT(pid, 1);
  ASSERT_EQ(kill(pid, 0), 0) << "daemon not running";
  // Later use finds the running daemon.
  RunResult again = RunBinary({LEASE_RUN_BIN, "--count", "1", "--", "/bin/true"}, env,
                        dir.path());
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(CountOccurrences(
                ReadFileOrEmpty(state + "/portlease/portleased.log"),
                "INFO portleased "),
            1u);
  RunResult stop = RunBinary({PORTLEASE_BIN, "server", "stop"}, env, dir.path());
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  if (stop.exit_code != 0) kill(pid, SIGTERM);
  EXPECT_TRUE(PollUntil([&] { return kill(pid, 0) != 0; }, absl::Seconds(10)));
}

}  // namespace
}  // namespace portlease::testing
