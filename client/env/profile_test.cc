#include "portlease/profile.h"

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

TEST(ProfileTest, ParsesJsonAndFillsDefaultEnvNames) {
  auto profile = ParseProfile(R"({
    "ports": [{"name": "redis", "defaultPort": 6379},
              {"name": "my-db", "env": "DB"}],
    "vars": [{"name": "REDIS_URL", "value": "redis://h:${REDIS_PORT}"}]
  })",
                              "p.json");
  ASSERT_TRUE(profile.ok()) << profile.status();
  ASSERT_EQ(profile->ports_size(), 2);
  EXPECT_EQ(profile->ports(0).env(), "REDIS_PORT");
  EXPECT_EQ(profile->ports(0).default_port(), 6379u);
  EXPECT_EQ(profile->ports(1).env(), "DB");
  EXPECT_EQ(profile->vars(0).name(), "REDIS_URL");
}

TEST(ProfileTest, ParsesTextFormat) {
  auto profile = ParseProfile(R"(
    ports { name: "worker" }
    vars { name: "WORKER_ADDR" value: "grpc://127.0.0.1:${WORKER_PORT}" }
  )",
                              "p.txtpb");
  ASSERT_TRUE(profile.ok()) << profile.status();
  EXPECT_EQ(profile->ports(0).env(), "WORKER_PORT");
}

TEST(ProfileTest, SyntaxErrorsNameTheSource) {
  auto json = ParseProfile(R"({"ports": [ )", "bad.json");
  EXPECT_EQ(json.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(json.status().message(), HasSubstr("bad.json"));
  auto unknown = ParseProfile(R"({"portz": []})", "u.json");
  EXPECT_THAT(unknown.status().message(), HasSubstr("u.json"));
  auto text = ParseProfile("ports { nam: \"x\" }", "bad.txtpb");
  EXPECT_THAT(text.status().message(), HasSubstr("bad.txtpb:1:"));
}

// A JSON syntax error is one line with the line and column of the error.
TEST(ProfileTest, JsonSyntaxErrorIsOneLineWithLineAndColumn) {
  auto missing_brace = ParseProfile(
      "{\"ports\": [\n  {\"name\": \"redis\"},\n  {\"name\": \"worker\"\n]}\n",
      "p.json");
  ASSERT_FALSE(missing_brace.ok());
  const std::string message(missing_brace.status().message());
  EXPECT_THAT(message, ::testing::StartsWith("p.json:4:1: "));
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  auto unknown = ParseProfile("{\"portz\": []}", "u.json");
  EXPECT_EQ(std::string(unknown.status().message()).find('\n'),
            std::string::npos);
}

TEST(ProfileTest, ValidationErrors) {
  EXPECT_THAT(ParseProfile("{}", "p").status().message(),
              HasSubstr("no ports"));
  EXPECT_THAT(
      ParseProfile(R"({"ports":[{"name":"Redis"}]})", "p").status().message(),
      HasSubstr("bad port name \"Redis\""));
  EXPECT_THAT(ParseProfile(R"({"ports":[{"name":"a"},{"name":"a"}]})", "p")
                  .status()
                  .message(),
              HasSubstr("declared twice"));
  EXPECT_THAT(
      ParseProfile(R"({"ports":[{"name":"a"},{"name":"b","env":"A_PORT"}]})",
                   "p")
          .status()
          .message(),
      HasSubstr("A_PORT declared twice"));
  EXPECT_FALSE(
      ParseProfile(R"({"ports":[{"name":"a","env":"1X"}]})", "p").ok());
  EXPECT_FALSE(ParseProfile(
                   R"({"ports":[{"name":"a"}],"vars":[{"name":"A_PORT"}]})",
                   "p")
                   .ok());
}

TEST(ProfileTest, ReservedVariablesAreRefusedWhereTheyAre) {
  auto env = ParseProfile(R"({
  "ports": [
    {"name": "redis"},
    {"name": "web", "env": "PATH"}
  ]
})",
                          "ci/ports.json");
  EXPECT_EQ(env.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(env.status().message(),
              HasSubstr("ci/ports.json:4:28: port \"web\": variable PATH is "
                        "reserved"));
  EXPECT_THAT(env.status().message(), HasSubstr("choose another name"));

  // A defaulted variable name points at the port name it comes from.
  auto derived = ParseProfile(
      "ports { name: \"redis\" }\n"
      "ports { name: \"portlease_x\" }\n",
      "p.txtpb");
  EXPECT_THAT(derived.status().message(),
              HasSubstr("p.txtpb:2:15: port \"portlease_x\": variable "
                        "PORTLEASE_X_PORT is reserved"));

  for (const char* name :
       {"HOME", "SHELL", "USER", "LD_PRELOAD", "PORTLEASE_LEASE_ID",
        "PORTLEASE_ENV_FILE", "COMPOSE_PROJECT_NAME", "PORT_0"}) {
    const std::string as_env =
        absl::StrCat(R"({"ports":[{"name":"a","env":")", name, R"("}]})");
    EXPECT_THAT(ParseProfile(as_env, "p").status().message(),
                HasSubstr(absl::StrCat("variable ", name, " is reserved")))
        << name;
    const std::string as_var =
        absl::StrCat(R"({"ports":[{"name":"a"}],"vars":[{"name":")", name,
                     R"(","value":"x"}]})");
    EXPECT_THAT(
        ParseProfile(as_var, "p").status().message(),
        HasSubstr(absl::StrCat("p:1:41: variable ", name, " is reserved")))
        << name;
  }
}

TEST(ProfileTest, VariableNamesMustBeShellNames) {
  for (const char* name : {"A-B", "1X", "A B", "A=B", "Ä", "A;B"}) {
    const std::string as_env =
        absl::StrCat(R"({"ports":[{"name":"a","env":")", name, R"("}]})");
    EXPECT_THAT(ParseProfile(as_env, "p").status().message(),
                HasSubstr("bad variable name"))
        << name;
    const std::string as_var =
        absl::StrCat(R"({"ports":[{"name":"a"}],"vars":[{"name":")", name,
                     R"(","value":"x"}]})");
    EXPECT_THAT(ParseProfile(as_var, "p").status().message(),
                HasSubstr("p:1:41: bad variable name"))
        << name;
  }
  EXPECT_TRUE(
      ParseProfile(R"({"ports":[{"name":"a","env":"_lower_1"}]})", "p").ok());
}

TEST(ProfileTest, FromNames) {
  auto profile = ProfileFromNames({"redis", "orch"});
  ASSERT_TRUE(profile.ok());
  EXPECT_EQ(profile->ports(1).env(), "ORCH_PORT");
  EXPECT_THAT(ProfileFromNames({"Bad!"}).status().message(),
              HasSubstr("bad port name"));
  EXPECT_THAT(ProfileFromNames({"a b"}).status().message(),
              HasSubstr("--ports: bad port name \"a b\""));
  EXPECT_THAT(ProfileFromNames({"redis", "portlease_lease"}).status().message(),
              HasSubstr("--ports: port \"portlease_lease\": variable "
                        "PORTLEASE_LEASE_PORT is reserved"));
  EXPECT_THAT(ProfileFromNames({"ld_preload"}).status().message(),
              HasSubstr("LD_PRELOAD_PORT is reserved"));
}

TEST(ProfileTest, LoadMissingFile) {
  EXPECT_EQ(LoadProfile("/nonexistent/p.json").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ProfileTest, ShippedM2ProfileParses) {
  auto profile = LoadProfile(PORTLEASE_M2_PROFILE);
  ASSERT_TRUE(profile.ok()) << profile.status();
  ASSERT_EQ(profile->ports_size(), 5);
  EXPECT_EQ(profile->ports(2).env(), "ORCH_PORT");
  EXPECT_EQ(profile->vars_size(), 5);
}

TEST(DefaultPortVariableTest, Names) {
  EXPECT_EQ(DefaultPortVariable("redis"), "REDIS_PORT");
  EXPECT_EQ(DefaultPortVariable("my-db_2"), "MY_DB_2_PORT");
}

}  // namespace
}  // namespace portlease
