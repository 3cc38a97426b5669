// The portlease CLI against a real portleased, and preflight without one.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "portlease/client.h"
#include "portlease/lease_env.h"
#include "tests/client/test_support.h"

namespace portlease::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::set<std::string> Keys(const std::string& lines, absl::string_view prefix) {
  std::set<std::string> keys;
  for (absl::string_view line : absl::StrSplit(lines, '\n', absl::SkipEmpty())) {
    if (!absl::ConsumePrefix(&line, prefix)) continue;
    keys.insert(std::string(line.substr(0, line.find('='))));
  }
  return keys;
}

size_t Lines(const std::string& text) {
  return std::vector<std::string>(absl::StrSplit(text, '\n', absl::SkipEmpty()))
      .size();
}

mode_t FileMode(const std::string& path) {
  struct stat st = {};
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start(dir_.path(), {"--pool", "20000-20015"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    client_ = std::make_unique<Client>(server_->address());
    env_ = {{"PORTLEASE_ADDR", server_->address()},
            {"COMPOSE_PROJECT_NAME", std::nullopt},
            {"GITHUB_ENV", dir_.File("github_env")}};
  }

  RunResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), PORTLEASE_BIN);
    return RunBinary(args, env_, dir_.path());
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<Client> client_;
  EnvChanges env_;
};

TEST_F(CliTest, AcquireNeedsTtl) {
  RunResult r = Cli({"acquire", "--ports", "redis"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--ttl"));
}

TEST_F(CliTest, AcquireFormatsCarryLeaseRunVariables) {
  RunResult env = Cli({"acquire", "--profile", M2_PROFILE, "--ttl", "60s",
                       "--format=env", "--github-env", "--gitlab-dotenv",
                       dir_.File("dotenv")});
  ASSERT_EQ(env.exit_code, 0) << env.err;
  RunResult shell = Cli({"acquire", "--profile", M2_PROFILE, "--ttl", "60s",
                         "--format=shell"});
  ASSERT_EQ(shell.exit_code, 0) << shell.err;
  RunResult run = RunBinary({LEASE_RUN_BIN, "--profile", M2_PROFILE, "--", "/bin/sh",
                       "-c", "env"},
                      env_, dir_.path());
  ASSERT_EQ(run.exit_code, 0) << run.err;

  const std::set<std::string> expected = {
      "REDIS_PORT",   "WORKER_PORT",     "ORCH_PORT",       "HEALTH_PORT",
      "METRICS_PORT", "PORTLEASE_LEASE_ID", "PORTLEASE_PORTS",
      "COMPOSE_PROJECT_NAME", "REDIS_URL", "WORKER_ADDR", "ORCH_WS_URL",
      "HEALTH_URL",   "METRICS_URL"};
  EXPECT_EQ(Keys(env.out, ""), expected);
  EXPECT_EQ(Keys(shell.out, "export "), expected);
  std::set<std::string> exported = Keys(run.out, "");
  for (const std::string& key : expected) EXPECT_EQ(exported.count(key), 1u) << key;
  // --format=env is shell-quoted; GitHub's and GitLab's files are
  // KEY=value (no value here spans lines).
  absl::StatusOr<Variables> vars = ParseEnvLines(env.out, "--format=env");
  ASSERT_TRUE(vars.ok()) << vars.status();
  std::string unquoted;
  for (const auto& [key, value] : *vars)
    absl::StrAppend(&unquoted, key, "=", value, "\n");
  EXPECT_EQ(ReadFileOrEmpty(dir_.File("github_env")), unquoted);
  EXPECT_EQ(ReadFileOrEmpty(dir_.File("dotenv")), unquoted);
  EXPECT_EQ(FileMode(dir_.File("github_env")), 0600u);
  EXPECT_EQ(FileMode(dir_.File("dotenv")), 0600u);
}

TEST_F(CliTest, EnvFormatIsSourcedByAPosixShell) {
  WriteFile(dir_.File("p.json"), R"({
    "ports": [{"name": "redis"}],
    "vars": [{"name": "GREETING", "value": "it's \"${REDIS_PORT}\" $HOME `x`"},
             {"name": "TWO_LINES", "value": "a\nb'c"}]
  })");
  RunResult env = Cli({"acquire", "--profile", dir_.File("p.json"), "--ttl",
                       "60s", "--format=env"});
  ASSERT_EQ(env.exit_code, 0) << env.err;
  WriteFile(dir_.File("lease.env"), env.out);
  RunResult sourced =
      RunBinary({"/bin/sh", "-c",
                 "set -a; . \"$0\" && printf '%s|%s|%s' \"$REDIS_PORT\" "
                 "\"$GREETING\" \"$TWO_LINES\"",
                 dir_.File("lease.env")},
                env_, dir_.path());
  ASSERT_EQ(sourced.exit_code, 0) << sourced.err;
  const std::vector<std::string> parts = absl::StrSplit(sourced.out, '|');
  ASSERT_EQ(parts.size(), 3u) << sourced.out;
  EXPECT_EQ(parts[1], "it's \"" + parts[0] + "\" $HOME `x`");
  EXPECT_EQ(parts[2], "a\nb'c");
}

TEST_F(CliTest, GitHubEnvCarriesMultiLineValuesAsHeredocs) {
  WriteFile(dir_.File("p.json"), R"({
    "ports": [{"name": "redis"}],
    "vars": [{"name": "TWO_LINES", "value": "a\nb"}]
  })");
  RunResult r = Cli({"acquire", "--profile", dir_.File("p.json"), "--ttl",
                     "60s", "--github-env"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string written = ReadFileOrEmpty(dir_.File("github_env"));
  const size_t at = written.find("TWO_LINES<<PORTLEASE_EOF_");
  ASSERT_NE(at, std::string::npos) << written;
  const std::string delimiter =
      written.substr(at + 11, written.find('\n', at) - at - 11);
  EXPECT_THAT(written, HasSubstr("TWO_LINES<<" + delimiter + "\na\nb\n" +
                                 delimiter + "\n"));
  EXPECT_THAT(written, HasSubstr("\nPORTLEASE_PORTS="));
}

// No live lease may be left behind that nobody knows the id of.
TEST_F(CliTest, AcquireReleasesTheLeaseWhenAnOutputFails) {
  env_["GITHUB_ENV"] = dir_.path();  // a directory: cannot be appended to
  RunResult github =
      Cli({"acquire", "--ports", "redis", "--ttl", "10m", "--github-env"});
  EXPECT_NE(github.exit_code, 0);
  EXPECT_EQ(Lines(github.err), 1u) << github.err;
  EXPECT_THAT(github.err, HasSubstr("--github-env: cannot append to " +
                                    dir_.path() + ": Is a directory"));
  EXPECT_THAT(github.err, HasSubstr("; released lease "));
  EXPECT_EQ(github.out, "");
  RunResult list = Cli({"list"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, Not(HasSubstr("live")));
  EXPECT_EQ(client_->List()->size(), 0u);

  env_["GITHUB_ENV"] = dir_.File("github_env");
  RunResult gitlab =
      Cli({"acquire", "--ports", "redis", "--ttl", "10m", "--github-env",
           "--gitlab-dotenv", dir_.File("no/dir/x.env")});
  EXPECT_NE(gitlab.exit_code, 0);
  EXPECT_THAT(gitlab.err, HasSubstr("--gitlab-dotenv: cannot write "));
  EXPECT_THAT(gitlab.err, HasSubstr("; released lease "));
  EXPECT_EQ(client_->List()->size(), 0u);

  // A value GitLab's dotenv cannot carry is refused before any file is
  // written.
  WriteFile(dir_.File("p.json"), R"({
    "ports": [{"name": "redis"}],
    "vars": [{"name": "TWO_LINES", "value": "a\nb"}]
  })");
  std::remove(dir_.File("github_env").c_str());
  RunResult multi =
      Cli({"acquire", "--profile", dir_.File("p.json"), "--ttl", "10m",
           "--github-env", "--gitlab-dotenv", dir_.File("x.env")});
  EXPECT_EQ(multi.exit_code, 1);
  EXPECT_EQ(Lines(multi.err), 1u) << multi.err;
  EXPECT_THAT(multi.err, HasSubstr("TWO_LINES spans lines"));
  EXPECT_THAT(multi.err, HasSubstr("; released lease "));
  EXPECT_EQ(ReadFileOrEmpty(dir_.File("x.env")), "");
  EXPECT_EQ(ReadFileOrEmpty(dir_.File("github_env")), "");
  EXPECT_EQ(client_->List()->size(), 0u);
}

TEST_F(CliTest, ReservedVariableNamesAreRefusedBeforeLeasing) {
  WriteFile(
      dir_.File("p.json"),
      "{\n  \"ports\": [{\"name\": \"a\", \"env\": \"LD_PRELOAD\"}]\n}\n");
  RunResult r =
      Cli({"acquire", "--profile", dir_.File("p.json"), "--ttl", "60s"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err,
              HasSubstr(dir_.File("p.json") + ":2:34: port \"a\": variable "
                                              "LD_PRELOAD is reserved"));
  EXPECT_EQ(client_->List()->size(), 0u);
}

TEST_F(CliTest, ListStatusRenewRelease) {
  RunResult acquired =
      Cli({"acquire", "--count", "3", "--ttl", "60s", "--format=env"});
  ASSERT_EQ(acquired.exit_code, 0) << acquired.err;
  std::string id;
  absl::StatusOr<Variables> vars = ParseEnvLines(acquired.out, "stdout");
  ASSERT_TRUE(vars.ok()) << vars.status();
  for (const auto& [key, value] : *vars) {
    if (key == "PORTLEASE_LEASE_ID") id = value;
  }
  ASSERT_EQ(id.size(), 32u);

  RunResult list = Cli({"list"});
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_THAT(list.out, HasSubstr(id.substr(0, 8)));
  EXPECT_THAT(list.out, HasSubstr("live"));
  RunResult json = Cli({"list", "--format=json"});
  EXPECT_THAT(json.out, HasSubstr("\"lease_id_prefix\": \"" + id.substr(0, 8)));

  RunResult status = Cli({"status"});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_THAT(status.out, HasSubstr("pool size:          16"));
  EXPECT_THAT(status.out, HasSubstr("leased:             3"));
  EXPECT_THAT(status.out, HasSubstr("largest free block: 13"));

  EXPECT_EQ(Cli({"renew", id, "--ttl", "120s"}).exit_code, 0);
  EXPECT_EQ(Cli({"release", id}).exit_code, 0);
  EXPECT_EQ(client_->List()->size(), 0u);
}

// More leases than one List page holds (500 by default): the client and
// the CLI follow the pages and show every lease once.
TEST(CliPagesTest, ListShowsEveryLeaseAcrossPages) {
  TempDir dir;
  auto server = TestServer::Start(
      dir.path(), {"--pool", "20000-21299", "--max_ports_per_owner=0",
                   "--max_leases_per_owner=0", "--rate_limit=0"});
  ASSERT_TRUE(server.ok()) << server.status();
  Client client((*server)->address());
  constexpr int kLeases = 1203;
  for (int i = 0; i < kLeases; ++i) {
    AcquireSpec spec;
    spec.count = 1;
    spec.ttl = absl::Minutes(5);
    ASSERT_TRUE(client.Acquire(spec).ok()) << i;
  }
  absl::StatusOr<std::vector<v1::Lease>> leases = client.List();
  ASSERT_TRUE(leases.ok()) << leases.status();
  std::set<uint32_t> bases;
  for (const v1::Lease& lease : *leases) bases.insert(lease.base_port());
  EXPECT_EQ(leases->size(), static_cast<size_t>(kLeases));
  EXPECT_EQ(bases.size(), static_cast<size_t>(kLeases));

  const EnvChanges env = {{"PORTLEASE_ADDR", (*server)->address()}};
  RunResult table = RunBinary({PORTLEASE_BIN, "list"}, env, dir.path());
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(Lines(table.out), static_cast<size_t>(kLeases) + 1);  // header
  RunResult json =
      RunBinary({PORTLEASE_BIN, "list", "--format=json"}, env, dir.path());
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(Lines(json.out), 1u);
  size_t prefixes = 0;
  for (size_t at = json.out.find("\"lease_id_prefix\"");
       at != std::string::npos;
       at = json.out.find("\"lease_id_prefix\"", at + 1)) {
    ++prefixes;
  }
  EXPECT_EQ(prefixes, static_cast<size_t>(kLeases));
  EXPECT_THAT(json.out, Not(HasSubstr("page_token")));
}

TEST_F(CliTest, ReleasingAnEndedLeaseIsANoteNotAFailure) {
  AcquireSpec spec;
  spec.count = 1;
  spec.ttl = absl::Seconds(60);
  absl::StatusOr<v1::Lease> released = client_->Acquire(spec);
  ASSERT_TRUE(released.ok()) << released.status();
  ASSERT_EQ(Cli({"release", released->lease_id()}).exit_code, 0);
  RunResult again = Cli({"release", released->lease_id()});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, "");
  EXPECT_EQ(again.err, absl::StrCat("portlease: lease ",
                                    released->lease_id_prefix(),
                                    " had already ended (released, expired or "
                                    "unknown to the server): nothing to "
                                    "release\n"));

  spec.ttl = absl::Seconds(1);
  absl::StatusOr<v1::Lease> expired = client_->Acquire(spec);
  ASSERT_TRUE(expired.ok()) << expired.status();
  ASSERT_TRUE(PollUntil(
      [&] {
        return client_->Get(expired->lease_id()).status().code() ==
               absl::StatusCode::kNotFound;
      },
      absl::Seconds(10)));
  RunResult late = Cli({"release", expired->lease_id()});
  EXPECT_EQ(late.exit_code, 0) << late.err;
  EXPECT_THAT(late.err, HasSubstr("had already ended"));

  // A malformed id (a prefix, as list shows) is still a usage error.
  RunResult prefix = Cli({"release", released->lease_id_prefix()});
  EXPECT_EQ(prefix.exit_code, 2);
  EXPECT_THAT(prefix.err, HasSubstr("is not a lease id"));
}

TEST_F(CliTest, ReleaseFailsWhenTheServerIsGone) {
  const std::string id = "0123456789abcdef0123456789abcdef";
  server_.reset();
  RunResult r = Cli({"release", id, "--connect-timeout", "1s"});
  EXPECT_EQ(r.exit_code, 69) << r.err;
}

TEST_F(CliTest, FlagsAndFormatsACommandDoesNotTakeAreUsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"list", "--format", "env"},
       "portlease: --format=env does not apply to list: want table or json\n"},
      {{"preflight", "--ports", "7001", "--format", "json"},
       "portlease: --format does not apply to preflight: it prints text "
       "only\n"},
      {{"release", "0123456789abcdef0123456789abcdef", "--count", "3"},
       "portlease: --count does not apply to release (it takes "
       "--connect-timeout; see --help)\n"},
      {{"list", "--owner", "badformat"},
       "portlease: --owner badformat: want KEY=VALUE (e.g. "
       "GITHUB_RUN_ID=42)\n"},
      {{"status", "now"}, "portlease: status takes no arguments (got \"now\")\n"},
  };
  for (const Case& c : cases) {
    RunResult r = Cli(c.args);
    EXPECT_EQ(r.exit_code, 2) << absl::StrJoin(c.args, " ");
    EXPECT_EQ(r.err, c.message);
    EXPECT_EQ(r.out, "");
  }
  // Nothing was acquired on the way.
  EXPECT_EQ(client_->List()->size(), 0u);
}

TEST_F(CliTest, TtlAboveTheServersMaximumSaysWhatToAskFor) {
  RunResult r = Cli({"acquire", "--count", "1", "--ttl", "25h"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("ttl 25h is out of range: ask for 1s to 24h"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("unset")));
}

TEST_F(CliTest, WhoShowsTheLease) {
  AcquireSpec spec;
  spec.names = {"redis"};
  spec.ttl = absl::Seconds(30);
  absl::StatusOr<v1::Lease> lease = client_->Acquire(spec);
  ASSERT_TRUE(lease.ok());
  RunResult who = Cli({"who", absl::StrCat(lease->base_port())});
  EXPECT_EQ(who.exit_code, 0) << who.err;
  EXPECT_THAT(who.out, HasSubstr("lease " + lease->lease_id_prefix()));
}

// A pool port the server has not probed yet but that a process outside
// portlease listens on is busy, not free: the server would not grant it.
TEST_F(CliTest, WhoCallsAPoolPortBoundOutsidePortleaseBusy) {
  int fd = -1;
  uint32_t port = 0;
  for (uint32_t p = 20000; p <= 20015 && fd < 0; ++p) {
    absl::StatusOr<v1::WhoResponse> seen = client_->Who({p});
    if (!seen.ok() || seen->ports_size() != 1 ||
        seen->ports(0).pool_state() != "free") {
      continue;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(p));
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(fd, 1) != 0) {
      close(fd);
      fd = -1;
      continue;
    }
    port = p;
  }
  if (fd < 0) GTEST_SKIP() << "no free pool port could be bound";
  RunResult who = Cli({"who", absl::StrCat(port)});
  RunResult json = Cli({"who", absl::StrCat(port), "--format=json"});
  close(fd);
  EXPECT_EQ(who.exit_code, 0) << who.err;
  EXPECT_THAT(who.out, HasSubstr(absl::StrCat("port ", port, ": busy\n")));
  EXPECT_THAT(who.out, HasSubstr("LISTEN pid " + absl::StrCat(getpid())));
  EXPECT_THAT(json.out, HasSubstr("\"pool_state\": \"busy\""));
}

// The server answers at most 256 ports per Who call: the client library
// asks in batches and keeps the order.
TEST_F(CliTest, WhoOfManyPortsIsAskedInBatches) {
  std::vector<uint32_t> ports;
  for (uint32_t i = 0; i < 600; ++i) ports.push_back(40000 + i);
  absl::StatusOr<v1::WhoResponse> all = client_->Who(ports);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->ports_size(), 600);
  for (int i = 0; i < 600; ++i) EXPECT_EQ(all->ports(i).port(), 40000u + i);
}

TEST_F(CliTest, UnknownCommandAndUsage) {
  EXPECT_EQ(Cli({"frobnicate"}).exit_code, 2);
  RunResult help = Cli({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("preflight"));
}

// A listening socket on an ephemeral port, closed on destruction.
class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(fd_, 1);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~Listener() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(PreflightTest, WorksWithoutAServer) {
  TempDir dir;
  EnvChanges env = {{"PORTLEASE_ADDR", std::nullopt},
                    {"PORTLEASE_SYSTEM_ADDR", "unix:" + dir.File("none/portleased.sock")},
                    {"XDG_RUNTIME_DIR", dir.File("run")},
                    {"XDG_STATE_HOME", dir.File("state")}};
  Listener busy;
  int free_port;
  {
    Listener probe;  // an ephemeral port that is free once closed
    free_port = probe.port();
  }
  RunResult r = RunBinary({PORTLEASE_BIN, "preflight", "--ports",
                     absl::StrCat(busy.port(), ",", free_port)},
                    env, dir.path());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.out, HasSubstr("local checks only"));
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("port ", busy.port(), ": BUSY")));
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("pid ", getpid())));
  EXPECT_THAT(r.out, HasSubstr("suggestion:"));
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("port ", free_port, ": free")));

  RunResult ok = RunBinary({PORTLEASE_BIN, "preflight", "--ports",
                      absl::StrCat(free_port)},
                     env, dir.path());
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
}

}  // namespace
}  // namespace portlease::testing
