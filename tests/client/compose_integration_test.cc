// lease-run --compose against a real portleased and Debian's docker-compose
// (`docker-compose config` renders the files without a Docker engine): the
// compose files under tests/client/compose/, copied to a temporary
// directory, and every published port of the rendered file compared with
// the lease.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "portlease/client.h"
#include "testing/poll_until.h"
#include "tests/client/test_support.h"
#include "tests/support/test_ports.h"
#include "yaml-cpp/yaml.h"

namespace portlease::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kDockerCompose[] = "/usr/bin/docker-compose";

struct Published {
  std::string service;
  int target = 0;
  int port = 0;
};

// Every published port of a `docker-compose config` output (short
// "[IP:]PUBLISHED:TARGET/PROTO" strings and long-syntax maps).
std::vector<Published> PublishedPorts(const std::string& config) {
  std::vector<Published> found;
  const YAML::Node services = YAML::Load(config)["services"];
  for (const auto& service : services) {
    const YAML::Node ports = service.second["ports"];
    if (!ports) continue;
    for (const YAML::Node& entry : ports) {
      Published p{service.first.as<std::string>()};
      if (entry.IsMap()) {
        p.target = entry["target"].as<int>();
        p.port = entry["published"] ? entry["published"].as<int>() : 0;
      } else {
        std::string text = entry.as<std::string>();
        text = text.substr(0, text.find('/'));
        std::vector<std::string> parts = absl::StrSplit(text, ':');
        EXPECT_GE(parts.size(), 2u) << text;
        if (parts.size() < 2) continue;
        EXPECT_TRUE(absl::SimpleAtoi(parts.back(), &p.target));
        EXPECT_TRUE(absl::SimpleAtoi(parts[parts.size() - 2], &p.port));
      }
      found.push_back(p);
    }
  }
  return found;
}

std::map<std::string, std::string> ParseEnvDump(const std::string& text) {
  std::map<std::string, std::string> vars;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    const size_t eq = line.find('=');
    if (eq != absl::string_view::npos) {
      vars[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    }
  }
  return vars;
}

std::vector<std::string> RewrittenFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename();
    if (absl::StartsWith(name, ".portlease-compose.")) files.push_back(name);
  }
  return files;
}

// What a run rendered and exported: the command runs
//   env > vars.TAG; docker-compose config > config.TAG
constexpr char kRender[] =
    "env > vars.$1 && docker-compose config > config.$1 && touch done.$1 && "
    "while [ -n \"$2\" ] && [ ! -e go ]; do sleep 0.05; done";

class ComposeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kDockerCompose, X_OK) != 0) {
      GTEST_SKIP() << "no " << kDockerCompose << " (ci/install-deps.sh)";
    }
    // lease-run looks for the compose files in its working directory,
    // which is this test's.
    ASSERT_EQ(chdir(dir_.path().c_str()), 0);
    auto server = TestServer::Start(
        server_dir_.path(),
        {"--pool", ports_.Range(), "--cooldown=0s", "--hold_grace=500ms"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    client_ = std::make_unique<Client>(server_->address());
    env_ = {{"PORTLEASE_ADDR", server_->address()},
            {"COMPOSE_PROJECT_NAME", std::nullopt},
            {"COMPOSE_FILE", std::nullopt},
            {"API_PORT", std::nullopt}};
  }

  // Copies tests/client/compose/<name> into the work directory.
  void CopyProject(const std::string& name) {
    fs::copy(fs::path(COMPOSE_DATA_DIR) / name, dir_.path(),
             fs::copy_options::recursive);
  }

  std::vector<std::string> LeaseRunArgs(const std::string& tag, bool hold) {
    return {LEASE_RUN_BIN, "--compose", "--", "/bin/sh",         "-c",
            kRender,       "sh",        tag,  hold ? "hold" : ""};
  }

  // Checks run TAG: every published port is one of the lease's ports, each
  // once, and is <SERVICE>_<TARGET>_PORT (or a variant of that name).
  // Returns the lease's ports.
  std::set<int> CheckRun(const std::string& tag) {
    const std::map<std::string, std::string> vars =
        ParseEnvDump(ReadFileOrEmpty(dir_.File("vars." + tag)));
    std::set<int> leased;
    for (absl::string_view p : absl::StrSplit(vars.count("PORTLEASE_PORTS") != 0
                                                  ? vars.at("PORTLEASE_PORTS")
                                                  : "",
                                              ' ', absl::SkipEmpty())) {
      int port = 0;
      EXPECT_TRUE(absl::SimpleAtoi(p, &port));
      leased.insert(port);
    }
    std::set<int> published;
    for (const Published& p :
         PublishedPorts(ReadFileOrEmpty(dir_.File("config." + tag)))) {
      EXPECT_TRUE(leased.count(p.port) != 0)
          << p.service << ":" << p.target << " published on " << p.port;
      EXPECT_TRUE(published.insert(p.port).second) << p.port << " twice";
      std::string var = absl::StrCat(p.service, "_", p.target);
      absl::AsciiStrToUpper(&var);
      absl::StrReplaceAll({{"-", "_"}}, &var);
      bool named = false;
      for (const char* suffix : {"_PORT", "_UDP_PORT", "_2_PORT"}) {
        auto it = vars.find(var + suffix);
        named =
            named || (it != vars.end() && it->second == absl::StrCat(p.port));
      }
      EXPECT_TRUE(named) << var << "_PORT is not " << p.port;
    }
    EXPECT_EQ(published, leased);
    return leased;
  }

  size_t LeaseCount() {
    auto leases = client_->List();
    return leases.ok() ? leases->size() : 999;
  }

  LeasedPorts ports_{40};
  TempDir server_dir_;
  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<Client> client_;
  EnvChanges env_;
};

class ComposeProjectTest : public ComposeTest,
                           public ::testing::WithParamInterface<std::string> {};

TEST_P(ComposeProjectTest, EveryPublishedPortIsLeased) {
  // How many ports each project publishes (tests/client/compose/README.md).
  const std::map<std::string, size_t> published = {
      {"m2", 5}, {"webapp", 6}, {"dns", 6}, {"monitoring", 4}};
  CopyProject(GetParam());
  const RunResult r =
      RunBinary(LeaseRunArgs("a", false), env_, dir_.path(), absl::Seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(CheckRun("a").size(), published.at(GetParam()));
  EXPECT_TRUE(RewrittenFiles(dir_.path()).empty());
  EXPECT_EQ(LeaseCount(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Projects, ComposeProjectTest,
                         ::testing::Values("m2", "webapp", "dns", "monitoring"),
                         [](const auto& info) { return info.param; });

// The rewritten file differs from the original only in its published
// port: `docker-compose config` renders both the same otherwise.
TEST_F(ComposeTest, EverythingElseUntouched) {
  CopyProject("untouched");
  const RunResult before = RunBinary({"/bin/sh", "-c", "docker-compose config"},
                                     env_, dir_.path(), absl::Seconds(60));
  ASSERT_EQ(before.exit_code, 0) << before.err;
  const RunResult after =
      RunBinary({LEASE_RUN_BIN, "--compose", "--", "docker-compose", "config"},
                env_, dir_.path(), absl::Seconds(60));
  ASSERT_EQ(after.exit_code, 0) << after.err;
  const std::vector<Published> ports = PublishedPorts(after.out);
  ASSERT_EQ(ports.size(), 1u);
  EXPECT_EQ(absl::StrReplaceAll(after.out,
                                {{absl::StrCat("published: ", ports[0].port),
                                  "published: 8080"}}),
            before.out);
}

TEST_F(ComposeTest, TwoRunsInOneDirectory) {
  CopyProject("webapp");
  auto a = Process::Start(LeaseRunArgs("a", true), env_, dir_.path());
  auto b = Process::Start(LeaseRunArgs("b", true), env_, dir_.path());
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(PollUntil(
      [&] {
        return access(dir_.File("done.a").c_str(), F_OK) == 0 &&
               access(dir_.File("done.b").c_str(), F_OK) == 0;
      },
      absl::Seconds(60)))
      << (*a)->err() << (*b)->err();
  EXPECT_EQ(RewrittenFiles(dir_.path()).size(), 2u);
  const std::set<int> ports_a = CheckRun("a");
  const std::set<int> ports_b = CheckRun("b");
  for (int port : ports_a) EXPECT_EQ(ports_b.count(port), 0u) << port;
  EXPECT_NE(ParseEnvDump(
                ReadFileOrEmpty(dir_.File("vars.a")))["COMPOSE_PROJECT_NAME"],
            ParseEnvDump(
                ReadFileOrEmpty(dir_.File("vars.b")))["COMPOSE_PROJECT_NAME"]);
  WriteFile(dir_.File("go"), "");
  EXPECT_EQ(*(*a)->Wait(absl::Seconds(20)), 0);
  EXPECT_EQ(*(*b)->Wait(absl::Seconds(20)), 0);
  EXPECT_TRUE(RewrittenFiles(dir_.path()).empty());
}

// SIGTERM goes to the command; once it has ended the file goes too.
TEST_F(ComposeTest, SignalledRunRemovesItsFile) {
  CopyProject("webapp");
  auto run = Process::Start({LEASE_RUN_BIN, "--compose", "--", "/bin/sh", "-c",
                             "touch started; exec sleep 60"},
                            env_, dir_.path());
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(
      PollUntil([&] { return access(dir_.File("started").c_str(), F_OK) == 0; },
                absl::Seconds(20)));
  ASSERT_EQ(RewrittenFiles(dir_.path()).size(), 1u);
  kill((*run)->pid(), SIGTERM);
  EXPECT_EQ(*(*run)->Wait(absl::Seconds(20)), 128 + SIGTERM);
  EXPECT_TRUE(RewrittenFiles(dir_.path()).empty());
  EXPECT_EQ(LeaseCount(), 0u);
}

TEST_F(ComposeTest, NextRunRemovesTheFileOfAKilledRun) {
  CopyProject("m2");
  auto killed = Process::Start({LEASE_RUN_BIN, "--compose", "--", "/bin/sh",
                                "-c", "echo $$ > child.pid; exec sleep 60"},
                               env_, dir_.path());
  ASSERT_TRUE(killed.ok());
  ASSERT_TRUE(PollUntil(
      [&] { return !ReadFileOrEmpty(dir_.File("child.pid")).empty(); },
      absl::Seconds(20)));
  ASSERT_EQ(RewrittenFiles(dir_.path()).size(), 1u);
  kill((*killed)->pid(), SIGKILL);
  EXPECT_EQ(*(*killed)->Wait(absl::Seconds(10)), 128 + SIGKILL);
  int child = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      absl::StripAsciiWhitespace(ReadFileOrEmpty(dir_.File("child.pid"))),
      &child));
  kill(child, SIGKILL);
  EXPECT_EQ(RewrittenFiles(dir_.path()).size(), 1u);
  const RunResult r = RunBinary(LeaseRunArgs("next", false), env_, dir_.path(),
                                absl::Seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(RewrittenFiles(dir_.path()).empty());
}

TEST_F(ComposeTest, PrintAndErrors) {
  CopyProject("dns");
  RunResult r =
      RunBinary({LEASE_RUN_BIN, "--compose-print"}, env_, dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("# portlease-compose owner="));
  EXPECT_THAT(r.out, HasSubstr("/udp\""));
  EXPECT_TRUE(RewrittenFiles(dir_.path()).empty());
  EXPECT_EQ(LeaseCount(), 0u);

  WriteFile(dir_.File("bad.yml"),
            "services:\n  web:\n    ports: [\"${WEB:-x}:80\"]\n");
  r = RunBinary({LEASE_RUN_BIN, "--compose-file", "bad.yml", "--", "true"},
                env_, dir_.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "lease-run: bad.yml: service web: ports entry \"${WEB:-x}:80\": "
            "published port \"x\" is not a port number (1-65535) or range\n");
  EXPECT_EQ(LeaseCount(), 0u);
}

// README "Compose stacks you did not write": its ```sh block, run as
// written in an empty directory.
TEST_F(ComposeTest, ReadmeBlockRuns) {
  const std::vector<std::string> block =
      ShBlockStartingWith(README_PATH, "# a stack you did not write");
  ASSERT_FALSE(block.empty()) << "no Compose stacks block in README";
  std::string bin_dir = LEASE_RUN_BIN;
  bin_dir.resize(bin_dir.rfind('/'));
  env_["PATH"] = absl::StrCat(bin_dir, ":/usr/bin:/bin");
  const RunResult r =
      RunBinary({"/bin/bash", "-ec", absl::StrJoin(block, "\n")}, env_,
                dir_.path(), absl::Seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::smatch match;
  ASSERT_TRUE(
      std::regex_search(r.out, match, std::regex("web on ([0-9]+), project ")))
      << r.out;
  const int web = std::stoi(match[1]);
  std::set<int> published;
  for (const Published& p :
       PublishedPorts(r.out.substr(0, r.out.find("web on ")))) {
    EXPECT_TRUE(ports_.base() <= p.port &&
                p.port < ports_.base() + static_cast<int>(ports_.count()))
        << p.service << ":" << p.target << " on " << p.port;
    if (p.service == "web" && p.target == 80) {
      EXPECT_EQ(p.port, web);
    }
    published.insert(p.port);
  }
  EXPECT_EQ(published.size(), 3u) << r.out;
  EXPECT_TRUE(RewrittenFiles(dir_.path()).empty());
  EXPECT_EQ(LeaseCount(), 0u);
}

}  // namespace
}  // namespace portlease::testing
