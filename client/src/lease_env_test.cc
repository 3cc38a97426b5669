#include "portlease/lease_env.h"

#include <map>
#include <regex>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "portlease/profile.h"

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

VariableLookup MapLookup(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](
             absl::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

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
  EXPECT_EQ(FormatEnvLines(vars), "A=1\nB=it's\n");
  EXPECT_EQ(FormatShellExports(vars), "export A='1'\nexport B='it'\\''s'\n");
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

TEST(ReadVariablesFileTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadVariablesFile("/nonexistent/portlease.env").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace portlease
