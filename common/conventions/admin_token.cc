#include "common/conventions/admin_token.h"

#include "absl/strings/ascii.h"

namespace portlease {

absl::string_view AdminTokenFromFileContent(absl::string_view content) {
  return absl::StripAsciiWhitespace(content);
}

absl::Status CheckAdminTokenText(absl::string_view token) {
  for (char c : token) {
    if (!IsAdminTokenByte(c)) {
      return absl::InvalidArgumentError(
          "holds whitespace or control characters");
    }
  }
  return absl::OkStatus();
}

}  // namespace portlease
