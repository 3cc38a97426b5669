#include "common/port/port.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;
TEST(ParsePortTest, AcceptsOneToMax) {
  EXPECT_EQ(ParsePort("1").value(), 1);
  EXPECT_EQ(ParsePort(" 65535\n").value(), 65535);
  for (const char* bad : {"", "0", "65536", "-1", "http", "80x"}) {
    absl::StatusOr<Port> port = ParsePort(bad);
    EXPECT_EQ(port.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(port.status().message(), HasSubstr("is not a port number (1-65535)"));
  }
}

TEST(ParsePortRangesTest, ParsesRangesAndSinglePorts) {
  auto r = ParsePortRanges("20000-29999, 40000,41000-41009");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (std::vector<PortRange>{{20000, 29999}, {40000, 40000}, {41000, 41009}}));
  EXPECT_EQ(FormatPortRanges(*r), "20000-29999,40000,41000-41009");
}

TEST(ParsePortRangesTest, RejectsBadInput) {
  for (const char* bad : {"", "0-10", "10-5", "1-70000", "abc", "1-2-3", "5,,x"}) {
    auto r = ParsePortRanges(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ParsePortListTest, ExpandsRanges) {
  auto r = ParsePortList("80,8080-8082");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<Port>{80, 8080, 8081, 8082}));
  EXPECT_TRUE(ParsePortList("").value().empty());
}

TEST(ParseEphemeralRangeTest, ReadsProcFormat) {
  auto r = ParseEphemeralRange("32768\t60999\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (PortRange{32768, 60999}));
  EXPECT_FALSE(ParseEphemeralRange("32768").ok());
  EXPECT_FALSE(ParseEphemeralRange("9 5").ok());
}

TEST(FormatPortListTest, MergesRunsAndRoundTrips) {
  EXPECT_EQ(FormatPortList({}), "");
  EXPECT_EQ(FormatPortList({5, 3, 4, 9, 4}), "3-5,9");
  auto parsed = ParsePortList(FormatPortList({20001, 20000, 65535}));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, (std::vector<Port>{20000, 20001, 65535}));
}

}  // namespace
}  // namespace portlease
