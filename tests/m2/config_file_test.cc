#include "tests/m2/config_file.h"

#include <map>
#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/map_lookup.h"

namespace portlease::m2 {
namespace {

using ::testing::HasSubstr;

TEST(ConfigTest, ReadsSectionsTopLevelKeysCommentsAndQuotes) {
  absl::StatusOr<Config> config = Config::Parse(
      "# header\n"
      "name: m2   # trailing comment\n"
      "redis:\n"
      "  url: redis://127.0.0.1:6379\n"
      "\n"
      "  db: \"0\"\n"
      "server:\r\n"
      "\tws_port: '8080'\r\n"
      "log_level: info\n"
      "tag: a#b\n",
      "test.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->values().size(), 6);
  EXPECT_EQ(*config->GetString("name"), "m2");
  EXPECT_EQ(*config->GetString("redis.url"), "redis://127.0.0.1:6379");
  EXPECT_EQ(*config->GetString("redis.db"), "0");
  EXPECT_EQ(*config->GetPort("server.ws_port"), 8080);
  EXPECT_EQ(*config->GetString("log_level"), "info");
  EXPECT_EQ(*config->GetString("tag"), "a#b");
}

TEST(ConfigTest, RejectsWhatIsOutsideTheSubset) {
  const std::map<std::string, std::string> cases = {
      {"a:\n  b:\n    c: 1\n", "nested sections"},
      {"  b: 1\n", "outside a section"},
      {"just words\n", "expected 'key: value'"},
      {"a:b\n", "space after ':'"},
      {"a: 1\na: 2\n", "duplicate key 'a'"},
      {"- item\n", "expected 'key: value'"},
      {"r:\n  url: redis://127.0.0.1:${REDIS_PORT}\n", "unrendered"},
  };
  for (const auto& [text, want] : cases) {
    absl::StatusOr<Config> config = Config::Parse(text, "bad.yaml");
    ASSERT_FALSE(config.ok()) << text;
    EXPECT_TRUE(absl::IsInvalidArgument(config.status()));
    EXPECT_THAT(config.status().message(), HasSubstr("bad.yaml:")) << text;
    EXPECT_THAT(config.status().message(), HasSubstr(want)) << text;
  }
}

TEST(ConfigTest, GetPortValidates) {
  absl::StatusOr<Config> config =
      Config::Parse("a: 0\nb: 65535\nc: 65536\nd: http\n", "p.yaml");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(*config->GetPort("a"), 0);
  EXPECT_EQ(*config->GetPort("b"), 65535);
  EXPECT_TRUE(absl::IsInvalidArgument(config->GetPort("c").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(config->GetPort("d").status()));
  EXPECT_TRUE(absl::IsNotFound(config->GetPort("e").status()));
}

TEST(ConfigTest, LoadMissingFileIsNotFound) {
  EXPECT_TRUE(
      absl::IsNotFound(Config::Load("/nonexistent/m2/config.yaml").status()));
}

using testing::MapLookup;

TEST(RenderTemplateTest, SubstitutesVariablesDefaultsAndDollars) {
  Lookup lookup = MapLookup({{"REDIS_PORT", "41000"}, {"EMPTY", ""}});
  absl::StatusOr<std::string> out = RenderTemplate(
      "url: redis://127.0.0.1:${REDIS_PORT}\n"
      "metrics: ${METRICS_PORT:-9090}\n"
      "empty: ${EMPTY:-fallback}\n"
      "set: ${REDIS_PORT:-1}\n"
      "cost: $$5 and $HOME and $\n",
      lookup, "t.in");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out,
            "url: redis://127.0.0.1:41000\n"
            "metrics: 9090\n"
            "empty: fallback\n"
            "set: 41000\n"
            "cost: $5 and $HOME and $\n");
}

TEST(RenderTemplateTest, ErrorsNameTheLine) {
  Lookup lookup = MapLookup({});
  absl::StatusOr<std::string> out =
      RenderTemplate("a: 1\nb: ${MISSING}\n", lookup, "t.in");
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), HasSubstr("t.in:2: unknown variable"));
  out = RenderTemplate("b: ${OPEN\n}", lookup, "t.in");
  EXPECT_THAT(out.status().message(), HasSubstr("t.in:1: unterminated"));
  out = RenderTemplate("${1BAD}", lookup, "t.in");
  EXPECT_THAT(out.status().message(), HasSubstr("invalid variable name"));
}

TEST(ParseHostPortTest, AcceptsAddressesAndUrls) {
  absl::StatusOr<HostPort> a = ParseHostPort("127.0.0.1:7001");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 7001);
  absl::StatusOr<HostPort> b = ParseHostPort("redis://localhost:6379/0");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "localhost");
  EXPECT_EQ(b->port, 6379);
  for (const char* bad :
       {"", "127.0.0.1", ":80", "h:0", "h:70000", "h:x", "redis://h"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseHostPort(bad).status())) << bad;
  }
}

}  // namespace
}  // namespace portlease::m2
