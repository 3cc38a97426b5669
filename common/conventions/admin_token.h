// The admin token's format, as portleased (--admin-token-file) and the
// portlease CLI (--admin-token-file, $PORTLEASE_ADMIN_TOKEN_FILE) both read
// it: the file holds one word of printable ASCII other than space (bytes
// 0x21..0x7E), optionally surrounded by whitespace such as the trailing
// newline of `echo` or `base64`. Anything else could not be sent as call
// metadata. What only the server requires (a minimum length, the file's
// mode) stays in server/service/admin_auth.h.
#ifndef PORTLEASE_COMMON_CONVENTIONS_ADMIN_TOKEN_H_
#define PORTLEASE_COMMON_CONVENTIONS_ADMIN_TOKEN_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace portlease {

// True for a byte a token may hold: 0x21..0x7E.
constexpr bool IsAdminTokenByte(char c) {
  return static_cast<unsigned char>(c) >= 0x21 &&
         static_cast<unsigned char>(c) <= 0x7e;
}

// The token in a token file's content: the content without surrounding
// ASCII whitespace (the trailing newline). Not checked: see
// CheckAdminTokenText.
absl::string_view AdminTokenFromFileContent(absl::string_view content);

// OK when every byte of `token` is an IsAdminTokenByte (the empty token
// too: callers word their own "empty" or "too short" message).
// INVALID_ARGUMENT "holds whitespace or control characters" otherwise; the
// message never shows the token.
absl::Status CheckAdminTokenText(absl::string_view token);

}  // namespace portlease

#endif  // PORTLEASE_COMMON_CONVENTIONS_ADMIN_TOKEN_H_
