#include "portlease/address.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseAddressListTest, SingleAddressesAsToday) {
  EXPECT_THAT(*ParseAddressList("unix:/run/x.sock"),
              ElementsAre("unix:/run/x.sock"));
  EXPECT_THAT(*ParseAddressList("127.0.0.1:7000"),
              ElementsAre("127.0.0.1:7000"));
  EXPECT_THAT(*ParseAddressList("localhost:1"), ElementsAre("localhost:1"));
  EXPECT_THAT(*ParseAddressList("[::1]:65535"), ElementsAre("[::1]:65535"));
  EXPECT_THAT(*ParseAddressList("dns:///h.example:7000"),
              ElementsAre("dns:///h.example:7000"));
  EXPECT_THAT(*ParseAddressList("unix-abstract:pl"),
              ElementsAre("unix-abstract:pl"));
}

TEST(ParseAddressListTest, ListInOrderWithWhitespaceDropped) {
  EXPECT_THAT(*ParseAddressList("unix:/a.sock,127.0.0.1:7000,[::1]:7001"),
              ElementsAre("unix:/a.sock", "127.0.0.1:7000", "[::1]:7001"));
  EXPECT_THAT(*ParseAddressList(" unix:/b.sock ,\tunix:/a.sock\n"),
              ElementsAre("unix:/b.sock", "unix:/a.sock"));
}

TEST(ParseAddressListTest, EmptyEntriesAreErrors) {
  for (const char* list : {"", " ", "unix:/a,,unix:/b", "unix:/a,", ",unix:/a",
                           "unix:/a, ,unix:/b"}) {
    absl::StatusOr<std::vector<std::string>> parsed = ParseAddressList(list);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << list;
    EXPECT_THAT(parsed.status().message(), HasSubstr("is empty")) << list;
  }
  EXPECT_THAT(ParseAddressList("unix:/a,,unix:/b").status().message(),
              HasSubstr("entry 2 is empty"));
}

TEST(ParseAddressListTest, DuplicatesAreErrors) {
  absl::StatusOr<std::vector<std::string>> parsed =
      ParseAddressList("unix:/a.sock, 127.0.0.1:7000 ,unix:/a.sock");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(),
              HasSubstr("\"unix:/a.sock\" given twice"));
}

TEST(ParseAddressListTest, BadEntriesAreNamedOnOneLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"localhost", "expected unix:PATH"},
      {"localhost:http", "port must be a number"},
      {"localhost:0", "port must be a number"},
      {"localhost:65536", "port must be a number"},
      {":7000", "no host"},
      {"::1:7000", "IPv6 host needs brackets"},
      {"[::1:7000", "unclosed ["},
      {"unix:", "nothing after the scheme"},
      {"unix:/a b.sock", "whitespace inside"},
  };
  for (const auto& [entry, problem] : cases) {
    const std::string list = "unix:/ok.sock," + entry;
    absl::StatusOr<std::vector<std::string>> parsed = ParseAddressList(list);
    ASSERT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << entry;
    const std::string message(parsed.status().message());
    EXPECT_THAT(message, HasSubstr("\"" + entry + "\" (entry 2 of")) << entry;
    EXPECT_THAT(message, HasSubstr(problem)) << entry;
    EXPECT_EQ(message.find('\n'), std::string::npos) << entry;
  }
}

TEST(ResolveServerAddressTest, ListFromTheEnvironmentNeverStartsAServer) {
  ResolveOptions options;
  options.environment =
      [](absl::string_view name) -> std::optional<std::string> {
    if (name == "PORTLEASE_ADDR") return "unix:/nowhere/a.sock,127.0.0.1:1";
    return std::nullopt;
  };
  absl::StatusOr<ResolvedAddress> where = ResolveServerAddress(options);
  ASSERT_TRUE(where.ok()) << where.status();
  EXPECT_THAT(where->addresses,
              ElementsAre("unix:/nowhere/a.sock", "127.0.0.1:1"));
  EXPECT_EQ(where->address, "unix:/nowhere/a.sock");
  EXPECT_FALSE(where->started);
  EXPECT_EQ(where->Describe(),
            "unix:/nowhere/a.sock,127.0.0.1:1 (PORTLEASE_ADDR)");
}

TEST(ResolveServerAddressTest, BadListIsInvalidArgument) {
  ResolveOptions options;
  options.environment =
      [](absl::string_view name) -> std::optional<std::string> {
    if (name == "PORTLEASE_ADDR") return "unix:/a.sock,,unix:/b.sock";
    return std::nullopt;
  };
  absl::StatusOr<ResolvedAddress> where = ResolveServerAddress(options);
  EXPECT_EQ(where.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(where.status().message(), HasSubstr("PORTLEASE_ADDR: "));
}

}  // namespace
}  // namespace portlease
