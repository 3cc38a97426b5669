#include "compose/compose_file.h"

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace portlease {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

VariableLookup Env(std::map<std::string, std::string> vars) {
  return [vars](absl::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

class ComposeFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_.File(name);
    std::ofstream(path) << text;
    return path;
  }
  absl::StatusOr<ComposeProject> Load(
      std::vector<std::string> files,
      std::map<std::string, std::string> env = {}) {
    return LoadComposeProject(files, Env(env), 64);
  }
  testing::TempDir dir_;
};

TEST_F(ComposeFileTest, ShortSyntaxForms) {
  const std::string file = Write("c.yml", R"(services:
  web:
    image: nginx
    ports:
      - "6379"
      - "6380:6379"
      - "127.0.0.1:8080:8080"
      - "8000-8001:80-81"
      - "5353:53/udp"
      - "[::1]:9090:90"
      - 7000
)");
  absl::StatusOr<ComposeProject> p = Load({file});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->names,
              ElementsAre("web_6379", "web_6379_2", "web_8080", "web_80",
                          "web_81", "web_53", "web_90", "web_7000"));
  EXPECT_TRUE(p->udp);
  EXPECT_EQ(p->entries[2].host_ip, "127.0.0.1");
  EXPECT_EQ(p->entries[5].host_ip, "::1");
  const std::string out =
      RewriteComposeProject(*p, {1, 2, 3, 4, 5, 6, 7, 8}, "# header\n");
  EXPECT_TRUE(absl::StartsWith(out, "# header\n")) << out;
  for (const char* want : {"\"1:6379\"", "\"2:6379\"", "\"127.0.0.1:3:8080\"",
                           "\"4:80\"", "\"5:81\"", "\"6:53/udp\"",
                           "\"[::1]:7:90\"", "\"8:7000\"", "image: nginx"}) {
    EXPECT_THAT(out, HasSubstr(want));
  }
}

TEST_F(ComposeFileTest, LongSyntaxAndVariables) {
  Write(".env", "# comment\nAPI_PORT=7100\nQUOTED='7200'\n");
  const std::string file = Write("c.yml", R"(services:
  api:
    ports:
      - target: 80
        published: "${API_PORT}"
        host_ip: 127.0.0.1
        protocol: tcp
        mode: host
      - target: 81
        published: ${MISSING:-8181}
      - target: 82
  dns:
    ports:
      - "${DNS_PORT:-53}:53/udp"
)");
  absl::StatusOr<ComposeProject> p = Load({file}, {{"DNS_PORT", "5300"}});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->names, ElementsAre("api_80", "api_81", "api_82", "dns_53"));
  const std::string out = RewriteComposeProject(*p, {11, 12, 13, 14}, "");
  YAML::Node doc = YAML::Load(out);
  YAML::Node api = doc["services"]["api"]["ports"];
  EXPECT_EQ(api[0]["published"].as<int>(), 11);
  EXPECT_EQ(api[0]["host_ip"].as<std::string>(), "127.0.0.1");
  EXPECT_EQ(api[0]["mode"].as<std::string>(), "host");
  EXPECT_EQ(api[1]["published"].as<int>(), 12);
  EXPECT_EQ(api[2]["published"].as<int>(), 13);
  EXPECT_EQ(doc["services"]["dns"]["ports"][0].as<std::string>(), "14:53/udp");
}

TEST_F(ComposeFileTest, OverrideAppendsPortsAndMergesMaps) {
  const std::string base = Write("compose.yaml", R"(services:
  db:
    image: postgres
    environment:
      A: "yes"
    command: ["a", "b"]
    ports: ["5432"]
)");
  const std::string over = Write("compose.override.yaml", R"(services:
  db:
    environment:
      B: "2"
    command: ["c"]
    ports: ["5432", "15432:5433"]
  cache:
    image: redis
)");
  absl::StatusOr<std::vector<std::string>> files =
      DefaultComposeFiles(Env({}), dir_.path());
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files, ElementsAre(base, over));
  absl::StatusOr<ComposeProject> p = Load(*files);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->names, ElementsAre("db_5432", "db_5433"));
  EXPECT_EQ(p->entries[1].file, over);
  const std::string out = RewriteComposeProject(*p, {1, 2}, "");
  YAML::Node db = YAML::Load(out)["services"]["db"];
  EXPECT_EQ(db["environment"]["A"].Tag(), "!") << out;  // still a string
  EXPECT_EQ(db["environment"]["B"].as<std::string>(), "2");
  EXPECT_EQ(db["command"].size(), 1u);
  EXPECT_EQ(db["image"].as<std::string>(), "postgres");
  EXPECT_TRUE(YAML::Load(out)["services"]["cache"]);
}

TEST_F(ComposeFileTest, DefaultFilesFromComposeFileVariable) {
  absl::StatusOr<std::vector<std::string>> files =
      DefaultComposeFiles(Env({{"COMPOSE_FILE", "a.yml:/x/b.yml"}}), "/d");
  ASSERT_TRUE(files.ok());
  EXPECT_THAT(*files, ElementsAre("/d/a.yml", "/x/b.yml"));
  EXPECT_EQ(DefaultComposeFiles(Env({}), dir_.path()).status().code(),
            absl::StatusCode::kNotFound);
  Write(".env", "COMPOSE_FILE=x.yml;y.yml\nCOMPOSE_PATH_SEPARATOR=;\n");
  files = DefaultComposeFiles(Env({}), dir_.path());
  ASSERT_TRUE(files.ok());
  EXPECT_THAT(*files, ElementsAre(dir_.File("x.yml"), dir_.File("y.yml")));
}

TEST_F(ComposeFileTest, ErrorsNameFileServiceAndEntry) {
  const std::string bad = Write("bad.yml", R"(services:
  web:
    ports: ["${NOPE:-abc}:80"]
)");
  absl::StatusOr<ComposeProject> p = Load({bad});
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      p.status().message(),
      HasSubstr("bad.yml: service web: ports entry \"${NOPE:-abc}:80\""));
  EXPECT_THAT(p.status().message(), HasSubstr("\"abc\""));

  const std::string wide = Write("wide.yml", R"(services:
  web:
    ports: ["9000-9100:9000-9100"]
)");
  p = Load({wide});
  EXPECT_THAT(p.status().message(), HasSubstr("more than a lease's 64"));

  const std::string broken = Write("broken.yml", "services: [\n");
  p = Load({broken});
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("broken.yml:"));
}

TEST_F(ComposeFileTest, ExtendsIsAnErrorMergeKeysAreResolved) {
  const std::string extends = Write("e.yml", R"(services:
  web:
    extends:
      file: common.yml
      service: base
)");
  absl::StatusOr<ComposeProject> p = Load({extends});
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(),
              HasSubstr("e.yml: service web: \"extends\" is not supported"));
  const std::string merge = Write("m.yml", R"(x-base: &base
  ports: ["80"]
services:
  web:
    <<: *base
    image: nginx
)");
  p = Load({merge});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->names, ElementsAre("web_80"));
  const YAML::Node web =
      YAML::Load(RewriteComposeProject(*p, {7}, ""))["services"]["web"];
  EXPECT_FALSE(web["<<"]);
  EXPECT_EQ(web["ports"][0].as<std::string>(), "7:80");
  EXPECT_EQ(web["image"].as<std::string>(), "nginx");
}

TEST_F(ComposeFileTest, NamesAreValidPortNames) {
  const std::string file = Write("c.yml", R"(services:
  My.Very-Long_Service.Name.That.Goes.On:
    ports: ["80", "80/udp"]
  9lives:
    ports: ["80"]
)");
  absl::StatusOr<ComposeProject> p = Load({file});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->names,
              ElementsAre("my_very-long_service_name_tha_80",
                          "my_very-long_service_name_80_udp", "s9lives_80"));
}

TEST(InterpolateComposeTest, Forms) {
  const VariableLookup env = Env({{"A", "1"}, {"E", ""}});
  EXPECT_EQ(*InterpolateCompose("$A ${A} ${E:-d} ${E-d} ${U-u} $$A", env),
            "1 1 d  u $A");
  EXPECT_FALSE(InterpolateCompose("${A", env).ok());
  EXPECT_FALSE(InterpolateCompose("${U:?need U}", env).ok());
}

}  // namespace
}  // namespace portlease
