#include "server/store/lease_codec.h"

#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

std::string Names(const std::vector<std::string>& names) {
  std::string out;
  EncodeLeaseNames(names, &out);
  return out;
}

std::string Owner(const Metadata& owner) {
  std::string out;
  EncodeLeaseOwner(owner, &out);
  return out;
}

std::string Bytes(absl::string_view s) { return std::string(s); }

// Strings around every varint size boundary, and arbitrary bytes.
std::vector<std::string> AwkwardStrings() {
  return {"",
          "a",
          Bytes(absl::string_view("\0\xff\n\x80", 4)),
          std::string(127, 'x'),
          std::string(128, 'y'),
          std::string(16383, 'z'),
          std::string(16384, '\0'),
          std::string(2097152, '\x81')};
}

TEST(LeaseCodecTest, EmptyEncodesAsEmpty) {
  EXPECT_EQ(Names({}), "");
  EXPECT_EQ(Owner({}), "");
  EXPECT_EQ(*DecodeLeaseNames(""), std::vector<std::string>{});
  EXPECT_EQ(*DecodeLeaseOwner(""), Metadata{});
}

TEST(LeaseCodecTest, EncodingIsAsDocumented) {
  EXPECT_EQ(Names({"a", ""}), Bytes(absl::string_view("\x01" "a\x00", 3)));
  EXPECT_EQ(Owner({{"k", "v"}}), "\x01k\x01v");
  EXPECT_EQ(Names({std::string(128, 'y')}).substr(0, 2), "\x80\x01");
  EXPECT_EQ(Names({std::string(16384, 'y')}).substr(0, 3), "\x80\x80\x01");
  // Owner keys come out sorted, whatever order they were inserted in.
  EXPECT_EQ(Owner({{"b", "2"}, {"a", "1"}}), "\x01" "a\x01" "1\x01" "b\x01" "2");
}

TEST(LeaseCodecTest, NamesRoundTrip) {
  const std::vector<std::string> names = AwkwardStrings();
  absl::StatusOr<std::vector<std::string>> decoded =
      DecodeLeaseNames(Names(names));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, names);
  // Order is kept, repeats allowed.
  const std::vector<std::string> repeated = {"b", "a", "b", ""};
  EXPECT_EQ(*DecodeLeaseNames(Names(repeated)), repeated);
}

TEST(LeaseCodecTest, OwnerRoundTrip) {
  const std::vector<std::string> strings = AwkwardStrings();
  Metadata owner;
  for (size_t i = 0; i < strings.size(); ++i) {
    owner[strings[i]] = strings[(i + 1) % strings.size()];
  }
  owner["host"] = "";
  absl::StatusOr<Metadata> decoded = DecodeLeaseOwner(Owner(owner));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, owner);
}

struct Malformed {
  const char* what;
  std::string blob;
  const char* message;
};

TEST(LeaseCodecTest, MalformedNamesAreDataLoss) {
  const Malformed cases[] = {
      {"truncated varint", "\x80", "truncated length varint"},
      {"truncated varint after a string", "\x01" "a\x81\x81", "truncated"},
      {"length past the end", "\x05" "abc", "runs past the end"},
      {"trailing byte", "\x01" "a\x01", "runs past the end"},
      {"overlong varint", Bytes(absl::string_view("\x81\x00", 2)), "overlong"},
      {"six-byte varint", "\x80\x80\x80\x80\x80\x01", "longer than 5 bytes"},
      {"length over 2^32", "\xff\xff\xff\xff\x7f", "too large"},
  };
  for (const Malformed& c : cases) {
    absl::StatusOr<std::vector<std::string>> decoded = DecodeLeaseNames(c.blob);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss) << c.what;
    EXPECT_THAT(decoded.status().message(), HasSubstr(c.message)) << c.what;
    EXPECT_THAT(decoded.status().message(), HasSubstr("names")) << c.what;
  }
}

TEST(LeaseCodecTest, MalformedOwnersAreDataLoss) {
  const Malformed cases[] = {
      {"truncated varint", "\x01k\x80", "truncated length varint"},
      {"value past the end", "\x01k\x03v", "runs past the end"},
      {"odd string count", "\x01k\x01v\x01j", "odd number of strings"},
      {"lone key", "\x01k", "odd number of strings"},
      {"duplicate key", "\x01k\x01v\x01k\x01w", "duplicate key \"k\""},
      {"keys out of order", "\x01z\x01v\x01" "a\x01w", "out of order"},
      {"overlong varint", Bytes(absl::string_view("\x01k\x80\x00", 4)),
       "overlong"},
  };
  for (const Malformed& c : cases) {
    absl::StatusOr<Metadata> decoded = DecodeLeaseOwner(c.blob);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss) << c.what;
    EXPECT_THAT(decoded.status().message(), HasSubstr(c.message)) << c.what;
    EXPECT_THAT(decoded.status().message(), HasSubstr("owner")) << c.what;
  }
}

TEST(LeaseCodecTest, EveryTruncationOfAValidBlobIsDataLoss) {
  const std::string names = Names({"redis", std::string(200, 'w'), ""});
  const std::string owner = Owner({{"host", "h"}, {"pid", "42"}});
  // Cutting inside the last string, or inside any varint or string but at a
  // string boundary, must fail; only whole-string prefixes decode.
  for (size_t n = 0; n < names.size(); ++n) {
    absl::StatusOr<std::vector<std::string>> decoded =
        DecodeLeaseNames(names.substr(0, n));
    bool boundary = n == 0 || n == 6 || n == 6 + 2 + 200;
    EXPECT_EQ(decoded.ok(), boundary) << n;
  }
  for (size_t n = 0; n < owner.size(); ++n) {
    absl::StatusOr<Metadata> decoded = DecodeLeaseOwner(owner.substr(0, n));
    bool boundary = n == 0 || n == 7;
    EXPECT_EQ(decoded.ok(), boundary) << n;
  }
}

// Decoding accepts exactly the encoder's outputs: whatever random blob
// decodes re-encodes to the same bytes, and nothing crashes (run under ASan
// by CI's sanitizer job).
TEST(LeaseCodecTest, RandomBlobsDecodeOnlyToTheirOwnEncoding) {
  std::mt19937 rng(20240611);
  const char alphabet[] = {'\x00', '\x01', '\x02', '\x03', '\x7f',
                           '\x80', '\x81', '\xff', 'a',    'k'};
  std::uniform_int_distribution<size_t> pick(0, sizeof(alphabet) - 1);
  std::uniform_int_distribution<size_t> length(0, 12);
  int names_ok = 0;
  int owner_ok = 0;
  for (int i = 0; i < 50000; ++i) {
    std::string blob(length(rng), '\0');
    for (char& c : blob) c = alphabet[pick(rng)];
    absl::StatusOr<std::vector<std::string>> names = DecodeLeaseNames(blob);
    if (names.ok()) {
      ++names_ok;
      EXPECT_EQ(Names(*names), blob);
    } else {
      EXPECT_EQ(names.status().code(), absl::StatusCode::kDataLoss);
    }
    absl::StatusOr<Metadata> owner = DecodeLeaseOwner(blob);
    if (owner.ok()) {
      ++owner_ok;
      EXPECT_EQ(Owner(*owner), blob);
    } else {
      EXPECT_EQ(owner.status().code(), absl::StatusCode::kDataLoss);
    }
  }
  // Both outcomes were exercised.
  EXPECT_GT(names_ok, 100);
  EXPECT_GT(owner_ok, 10);
  EXPECT_LT(owner_ok, names_ok);
}

}  // namespace
}  // namespace portlease
