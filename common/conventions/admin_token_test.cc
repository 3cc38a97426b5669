#include "common/conventions/admin_token.h"

#include <string>

#include "gtest/gtest.h"

namespace portlease {
namespace {

TEST(AdminTokenFormatTest, AcceptsPrintableAsciiOtherThanSpace) {
  EXPECT_TRUE(CheckAdminTokenText("abcDEF0123456789+/=").ok());
  EXPECT_TRUE(CheckAdminTokenText("!~").ok());  // 0x21 and 0x7E
  EXPECT_TRUE(CheckAdminTokenText("").ok());    // the callers word "empty"
}

TEST(AdminTokenFormatTest, RefusesEveryOtherByte) {
  for (int byte = 0; byte < 256; ++byte) {
    const std::string token = "abcdefgh" + std::string(1, static_cast<char>(byte));
    const bool accepted = byte >= 0x21 && byte <= 0x7e;
    absl::Status status = CheckAdminTokenText(token);
    EXPECT_EQ(status.ok(), accepted) << "byte " << byte;
    EXPECT_EQ(IsAdminTokenByte(static_cast<char>(byte)), accepted) << "byte " << byte;
    if (!accepted) {
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(status.message(), "holds whitespace or control characters");
    }
  }
}

TEST(AdminTokenFormatTest, FileContentLosesSurroundingWhitespace) {
  EXPECT_EQ(AdminTokenFromFileContent("token\n"), "token");
  EXPECT_EQ(AdminTokenFromFileContent("  token \r\n\n"), "token");
  EXPECT_EQ(AdminTokenFromFileContent("a b\n"), "a b");
  EXPECT_EQ(AdminTokenFromFileContent("\n"), "");
}

}  // namespace
}  // namespace portlease
