#include "portlease/lease_env.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "portlease/profile.h"
#include "testing/map_lookup.h"
#include "testing/temp_dir.h"

namespace portlease {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

v1::Lease NamedLease() {
  v1::Lease lease;
  lease.set_lease_id("0123456789abcdef0123456789abcdef");
  lease.set_base_port(41000);
  lease.set_count(2);
  auto* a = lease.add_ports();
  a->set_name("redis");
  a->set_port(41000);
  auto* b = lease.add_ports();
  b->set_name("orch");
  b->set_port(41001);
  return lease;
}

using portlease::testing::MapLookup;

TEST(LeaseVariablesTest, WithoutProfile) {
  auto vars = LeaseVariables(NamedLease(), nullptr, MapLookup({}), "/src/My App");
  ASSERT_TRUE(vars.ok()) << vars.status();
  EXPECT_THAT(*vars,
              ElementsAre(Pair("REDIS_PORT", "41000"), Pair("ORCH_PORT", "41001"),
                          Pair("PORTLEASE_LEASE_ID",
                               "0123456789abcdef0123456789abcdef"),
                          Pair("PORTLEASE_PORTS", "41000 41001"),
                          Pair("COMPOSE_PROJECT_NAME", "my-app-01234567")));
}

TEST(LeaseVariablesTest, ComposeProjectNameKeptWhenSet) {
  auto vars = LeaseVariables(NamedLease(), nullptr,
                             MapLookup({{"COMPOSE_PROJECT_NAME", "mine"}}), "/x");
  ASSERT_TRUE(vars.ok());
  for (const auto& [key, value] : *vars) EXPECT_NE(key, "COMPOSE_PROJECT_NAME");
}

TEST(LeaseVariablesTest, ComposeProjectNameOfAnOuterLeaseIsReplaced) {
  // Under `lease-run -- ctest`, a test's own lease-run sees the outer
  // lease's derived name: its stack gets a project of its own.
  auto vars = LeaseVariables(
      NamedLease(), nullptr,
      MapLookup({{"COMPOSE_PROJECT_NAME", "my-app-fedcba98"},
                 {"PORTLEASE_LEASE_ID", "fedcba9876543210fedcba9876543210"}}),
      "/src/My App");
  ASSERT_TRUE(vars.ok());
  EXPECT_THAT(*vars, Contains(Pair("COMPOSE_PROJECT_NAME", "my-app-01234567")));
  // A name the user chose stays, outer lease or not.
  vars = LeaseVariables(
      NamedLease(), nullptr,
      MapLookup({{"COMPOSE_PROJECT_NAME", "mine"},
                 {"PORTLEASE_LEASE_ID", "fedcba9876543210fedcba9876543210"}}),
      "/x");
  ASSERT_TRUE(vars.ok());
  for (const auto& [key, value] : *vars) EXPECT_NE(key, "COMPOSE_PROJECT_NAME");
}

TEST(LeaseVariablesTest, ProfileNamesAndDerivedVariables) {
  auto profile = ParseProfile(R"({
    "ports": [{"name": "redis", "env": "R"}, {"name": "orch"}],
    "vars": [{"name": "URL", "value": "redis://${HOST:-127.0.0.1}:${R}"},
             {"name": "BOTH", "value": "${URL} ${ORCH_PORT} ${FROM_ENV}"}]
  })",
                              "p");
  ASSERT_TRUE(profile.ok()) << profile.status();
  auto vars = LeaseVariables(NamedLease(), &*profile,
                             MapLookup({{"FROM_ENV", "e"}}), "/w");
  ASSERT_TRUE(vars.ok()) << vars.status();
  std::map<std::string, std::string> got(vars->begin(), vars->end());
  EXPECT_EQ(got["R"], "41000");
  EXPECT_EQ(got["URL"], "redis://127.0.0.1:41000");
  EXPECT_EQ(got["BOTH"], "redis://127.0.0.1:41000 41001 e");
}

TEST(LeaseVariablesTest, DerivedVariableErrorsNameTheVariable) {
  auto profile = ParseProfile(
      R"({"ports":[{"name":"redis"}],"vars":[{"name":"U","value":"${NOPE}"}]})",
      "p");
  ASSERT_TRUE(profile.ok());
  auto vars = LeaseVariables(NamedLease(), &*profile, MapLookup({}), "/w");
  EXPECT_THAT(vars.status().message(), HasSubstr("profile variable U"));
  EXPECT_THAT(vars.status().message(), HasSubstr("NOPE"));
}

TEST(LeaseVariablesTest, UnnamedPorts) {
  v1::Lease lease;
  lease.set_lease_id("ffffffffffffffffffffffffffffffff");
  lease.add_ports()->set_port(5);
  lease.add_ports()->set_port(6);
  auto vars = LeaseVariables(lease, nullptr, MapLookup({}), "/");
  ASSERT_TRUE(vars.ok());
  EXPECT_THAT((*vars)[0], Pair("PORT_0", "5"));
  EXPECT_THAT((*vars)[1], Pair("PORT_1", "6"));
}

bool AnyPort(absl::string_view value) {
  uint32_t port = 0;
  return absl::SimpleAtoi(value, &port) && port > 0 && port < 65536;
}

TEST(PortVariableTest, TheNamingRule) {
  auto profile = ParseProfile(
      R"({"ports": [{"name": "redis", "env": "R"}, {"name": "orch"}]})", "p");
  ASSERT_TRUE(profile.ok()) << profile.status();
  EXPECT_EQ(PortVariable("", 3, &*profile), "PORT_3");
  EXPECT_EQ(PortVariable("redis", 0, &*profile), "R");
  EXPECT_EQ(PortVariable("orch", 1, &*profile), "ORCH_PORT");
  EXPECT_EQ(PortVariable("redis", 0, nullptr), "REDIS_PORT");
}

// LeaseVariablesFromEnvironment reads back what LeaseVariables exported:
// named ports with and without a profile, derived variables, and unnamed
// ports.
TEST(LeaseVariablesFromEnvironmentTest, UndoesLeaseVariables) {
  auto profile = ParseProfile(R"({
    "ports": [{"name": "redis", "env": "R"}, {"name": "orch"}],
    "vars": [{"name": "URL", "value": "redis://127.0.0.1:${R} ${FROM_ENV}"}]
  })",
                              "p");
  ASSERT_TRUE(profile.ok()) << profile.status();
  absl::StatusOr<PortRequest> by_names = MakePortRequest("redis,orch", 0, "");
  ASSERT_TRUE(by_names.ok()) << by_names.status();
  v1::Lease unnamed;
  unnamed.set_lease_id("ffffffffffffffffffffffffffffffff");
  unnamed.add_ports()->set_port(5);
  unnamed.add_ports()->set_port(6);
  struct Case {
    v1::Lease lease;
    const v1::Profile* profile;
    uint32_t count;
  };
  const VariableLookup outside = MapLookup({{"FROM_ENV", "e"}});
  for (const Case& c : {Case{NamedLease(), &*profile, 0},
                        Case{NamedLease(), &*by_names->profile, 0},
                        Case{unnamed, nullptr, 2}}) {
    absl::StatusOr<Variables> vars =
        LeaseVariables(c.lease, c.profile, outside, "/src/app");
    ASSERT_TRUE(vars.ok()) << vars.status();
    absl::StatusOr<std::optional<Variables>> back =
        LeaseVariablesFromEnvironment(c.profile, c.count,
                                      ChainLookup(*vars, outside), AnyPort);
    ASSERT_TRUE(back.ok()) << back.status();
    ASSERT_TRUE(back->has_value());
    EXPECT_EQ(**back, *vars);
  }
}

TEST(LeaseVariablesFromEnvironmentTest, ReusesAnOuterLease) {
  absl::StatusOr<PortRequest> request = MakePortRequest("redis,worker", 0, "");
  ASSERT_TRUE(request.ok());
  absl::StatusOr<std::optional<Variables>> vars = LeaseVariablesFromEnvironment(
      &*request->profile, 0,
      MapLookup({{"PORTLEASE_LEASE_ID", "0123456789abcdef"},
                 {"REDIS_PORT", "41000"},
                 {"WORKER_PORT", "41001"},
                 {"COMPOSE_PROJECT_NAME", "x-01234567"}}),
      AnyPort);
  ASSERT_TRUE(vars.ok()) << vars.status();
  ASSERT_TRUE(vars->has_value());
  EXPECT_THAT(**vars, Contains(Pair("PORTLEASE_PORTS", "41000 41001")));
  EXPECT_THAT(**vars, Contains(Pair("COMPOSE_PROJECT_NAME", "x-01234567")));
}

TEST(LeaseVariablesFromEnvironmentTest, NothingToReuse) {
  absl::StatusOr<PortRequest> request = MakePortRequest("redis,worker", 0, "");
  ASSERT_TRUE(request.ok());
  auto reuse = [&](std::map<std::string, std::string> environment) {
    return LeaseVariablesFromEnvironment(&*request->profile, 0,
                                         MapLookup(std::move(environment)),
                                         AnyPort);
  };
  // No lease id; a missing port; a bad port.
  EXPECT_FALSE(reuse({{"REDIS_PORT", "1"}, {"WORKER_PORT", "2"}})->has_value());
  EXPECT_FALSE(reuse({{"PORTLEASE_LEASE_ID", "a"}, {"REDIS_PORT", "41000"}})
                   ->has_value());
  EXPECT_FALSE(reuse({{"PORTLEASE_LEASE_ID", "a"},
                      {"REDIS_PORT", "41000"},
                      {"WORKER_PORT", "70000"}})
                   ->has_value());
}

TEST(ComposeProjectNameTest, AlwaysValid) {
  const std::regex valid("[a-z0-9][a-z0-9_-]*");
  for (const char* dir : {"/", "", "/a/B c/", "/__x", "/..", "/Ünï", "/a/.git"}) {
    const std::string name = ComposeProjectName(dir, "ABCDEF0123");
    EXPECT_TRUE(std::regex_match(name, valid)) << dir << " -> " << name;
    EXPECT_THAT(name, ::testing::EndsWith("-abcdef01"));
  }
}

TEST(FormatTest, EnvAndShell) {
  Variables vars = {{"A", "1"}, {"B", "it's"}};
  EXPECT_EQ(FormatEnvLines(vars), "A='1'\nB='it'\\''s'\n");
  EXPECT_EQ(FormatShellExports(vars), "export A='1'\nexport B='it'\\''s'\n");
}

TEST(FormatTest, GitLabDotenvIsUnquotedAndSingleLine) {
  EXPECT_EQ(*FormatGitLabDotenv({{"A", "1"}, {"B", "it's \"x\" $y"}}),
            "A=1\nB=it's \"x\" $y\n");
  absl::StatusOr<std::string> multi =
      FormatGitLabDotenv({{"A", "1"}, {"CERT", "a\nb"}});
  EXPECT_EQ(multi.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(multi.status().message(), HasSubstr("CERT"));
  EXPECT_FALSE(FormatGitLabDotenv({{"A", "a\rb"}}).ok());
}

TEST(FormatTest, GitHubEnvUsesHeredocsForMultiLineValues) {
  std::vector<std::string> delimiters = {"EOF_1", "EOF_2"};
  size_t calls = 0;
  auto next = [&] { return delimiters[calls++]; };
  // EOF_1 occurs in the multi-line value: the next delimiter is taken.
  EXPECT_EQ(
      FormatGitHubEnv({{"A", "1"}, {"B", "x\nEOF_1\ny"}, {"C", "it's"}}, next),
      "A=1\nB<<EOF_2\nx\nEOF_1\ny\nEOF_2\nC=it's\n");
  EXPECT_EQ(calls, 2u);
}

TEST(FormatTest, RandomDelimitersDiffer) {
  const std::string a = RandomDelimiter();
  EXPECT_THAT(a, ::testing::StartsWith("PORTLEASE_EOF_"));
  EXPECT_EQ(a.size(), 14u + 32u);
  EXPECT_NE(a, RandomDelimiter());
}

TEST(ReservedVariableTest, Names) {
  for (const char* name :
       {"PATH", "HOME", "SHELL", "USER", "LD_PRELOAD", "LD_LIBRARY_PATH",
        "PORTLEASE_LEASE_ID", "PORTLEASE_ENV_FILE", "PORTLEASE_X",
        "COMPOSE_PROJECT_NAME", "PORT_0", "PORT_12"}) {
    EXPECT_TRUE(IsReservedVariableName(name)) << name;
  }
  for (const char* name : {"REDIS_PORT", "PATHS", "MY_PATH", "LDX", "PORT_",
                           "PORT_X", "PORT", "COMPOSE_FILE", "user"}) {
    EXPECT_FALSE(IsReservedVariableName(name)) << name;
  }
}

}  // namespace
}  // namespace portlease

namespace portlease {
namespace {

TEST(ParseEnvLinesTest, RoundTripsFormatEnvLines) {
  const Variables vars = {{"REDIS_PORT", "41000"},
                          {"REDIS_URL", "redis://127.0.0.1:41000/0?a=b"},
                          {"EMPTY", ""}};
  absl::StatusOr<Variables> parsed = ParseEnvLines(FormatEnvLines(vars), "f");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, vars);
}

TEST(ParseEnvLinesTest, SkipsBlankAndCommentLines) {
  absl::StatusOr<Variables> parsed =
      ParseEnvLines("# lease\n\nA=1\r\n", "f");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(*parsed, ElementsAre(Pair("A", "1")));
}

TEST(ParseEnvLinesTest, RejectsMalformedLines) {
  EXPECT_THAT(ParseEnvLines("A=1\nnot a variable\n", "x.env").status().message(),
              HasSubstr("x.env:2"));
  EXPECT_FALSE(ParseEnvLines("1A=2\n", "x.env").ok());
}

// Values a careless env file would break: quotes, expansions, globs,
// newlines, backslashes, leading and trailing blanks.
const Variables& TrickyVariables() {
  static const Variables* vars = new Variables{
      {"PLAIN", "41000"},
      {"EMPTY", ""},
      {"QUOTES", "it's \"quoted\" ''"},
      {"EXPANSIONS", "$HOME ${PATH} $(false) `false` \\$x"},
      {"GLOB", "* ? [a]"},
      {"MULTI", "line one\nline 'two'\n\nend\n"},
      {"BLANKS", "  padded\t "},
      {"SEMI", "a; exit 3 # not a comment"},
  };
  return *vars;
}

TEST(ParseEnvLinesTest, RoundTripsTrickyValues) {
  absl::StatusOr<Variables> parsed =
      ParseEnvLines(FormatEnvLines(TrickyVariables()), "f");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, TrickyVariables());
}

TEST(ParseEnvLinesTest, ReadsUnquotedLinesLiterally) {
  absl::StatusOr<Variables> parsed =
      ParseEnvLines("A=it's\nB=x 'y'\nC='a'b\\ c\n", "f");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(*parsed, ElementsAre(Pair("A", "it's"), Pair("B", "x 'y'"),
                                   Pair("C", "ab c")));
}

TEST(ParseEnvLinesTest, UnterminatedQuoteNamesTheLine) {
  absl::StatusOr<Variables> parsed =
      ParseEnvLines("A='1'\nB='open\nC=2\n", "x.env");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("x.env:2: unterminated"));
  // Line numbers count the lines inside a quoted value.
  EXPECT_THAT(ParseEnvLines("A='1\n2'\nbad\n", "y.env").status().message(),
              HasSubstr("y.env:3:"));
}

using portlease::testing::TempDir;

mode_t FileMode(const std::string& path) {
  struct stat st = {};
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The env file, sourced by sh with `set -a`, gives a child process exactly
// the values written.
TEST(EnvFileTest, PosixShellSourcesTheValuesBack) {
  TempDir dir;
  const std::string file = dir.File("lease.env");
  ASSERT_TRUE(WriteVariablesFile(file, TrickyVariables(), false).ok());
  const std::string script = "set -a; . \"$0\" || exit 1; exec /usr/bin/env -0";
  FILE* pipe = popen(
      absl::StrCat("env -i /bin/sh -c '", script, "' '", file, "'").c_str(),
      "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), pipe)) > 0;) {
    out.append(buf, n);
  }
  ASSERT_EQ(pclose(pipe), 0);
  std::map<std::string, std::string> env;
  for (absl::string_view entry : absl::StrSplit(out, '\0', absl::SkipEmpty())) {
    const size_t eq = entry.find('=');
    env[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
  }
  for (const auto& [key, value] : TrickyVariables()) {
    ASSERT_EQ(env.count(key), 1u) << key << " not exported";
    EXPECT_EQ(env[key], value) << key;
  }
}

TEST(EnvFileTest, WritesPrivateFilesAtomically) {
  TempDir dir;
  const std::string file = dir.File("lease.env");
  std::ofstream(file) << "old\n";
  chmod(file.c_str(), 0644);
  ASSERT_TRUE(WriteVariablesFile(file, {{"A", "1"}}, false).ok());
  EXPECT_EQ(ReadAll(file), "A='1'\n");
  EXPECT_EQ(FileMode(file), 0600u);
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(dir.File(""))) {
    left.push_back(entry.path().filename().string());
  }
  EXPECT_THAT(left, ElementsAre("lease.env"));  // no temporary file left

  const std::string appended = dir.File("github_env");
  ASSERT_TRUE(AppendPrivateFile(appended, "A=1\n").ok());
  ASSERT_TRUE(AppendPrivateFile(appended, "B=2\n").ok());
  EXPECT_EQ(ReadAll(appended), "A=1\nB=2\n");
  EXPECT_EQ(FileMode(appended), 0600u);
}

TEST(EnvFileTest, WriteErrorsNameThePath) {
  TempDir dir;
  absl::Status into_dir = WritePrivateFile(dir.File(""), "A=1\n");
  EXPECT_EQ(into_dir.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(into_dir.message(), HasSubstr(dir.File("")));
  absl::Status append_dir = AppendPrivateFile(dir.File(""), "A=1\n");
  EXPECT_EQ(append_dir.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(append_dir.message(), HasSubstr("cannot append to"));
  EXPECT_FALSE(WritePrivateFile(dir.File("no/such/dir/f"), "").ok());
}

TEST(ReadVariablesFileTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadVariablesFile("/nonexistent/portlease.env").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace portlease
