#include "portlease/profile.h"

#include <fstream>
#include <string>

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

TEST(ProfileTest, FromNames) {
  auto profile = ProfileFromNames({"redis", "orch"});
  ASSERT_TRUE(profile.ok());
  EXPECT_EQ(profile->ports(1).env(), "ORCH_PORT");
  EXPECT_THAT(ProfileFromNames({"Bad!"}).status().message(),
              HasSubstr("bad port name"));
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
