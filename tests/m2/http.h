// Minimal HTTP/1.1 and WebSocket pieces for the M2 orchestrator stand-in.
//
// Enough to answer one request per connection: parse a request head, format
// a response, and complete an RFC 6455 opening handshake
// (Sec-WebSocket-Accept = base64(SHA-1(key + GUID))) and frames.
#ifndef PORTLEASE_TESTS_M2_HTTP_H_
#define PORTLEASE_TESTS_M2_HTTP_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace portlease::m2 {

struct HttpRequest {
  std::string method;   // "GET"
  std::string target;   // "/healthz"
  std::string version;  // "HTTP/1.1"
  // Header names lower-cased; values trimmed. A repeated header keeps the
  // last value.
  absl::flat_hash_map<std::string, std::string> headers;

  // The header's value, or "" when absent. `name` must be lower-case.
  std::string Header(absl::string_view name) const;
  // True for "Connection: ...upgrade..." with "Upgrade: websocket".
  bool IsWebSocketUpgrade() const;
};

// Parses a request head (request line and headers, up to and optionally
// including the blank line). INVALID_ARGUMENT when malformed.
absl::StatusOr<HttpRequest> ParseRequestHead(absl::string_view head);

// "HTTP/1.1 <code> <reason>" with Content-Type, Content-Length and
// "Connection: close", then `body`.
std::string FormatResponse(int code, absl::string_view reason,
                           absl::string_view content_type,
                           absl::string_view body);

// SHA-1 of `data` (FIPS 180-4). Used only for the WebSocket handshake.
std::array<uint8_t, 20> Sha1(absl::string_view data);

// The Sec-WebSocket-Accept value for a Sec-WebSocket-Key.
std::string WebSocketAccept(absl::string_view key);

// A WebSocket frame.
struct WebSocketFrame {
  bool fin = true;
  uint8_t opcode = 1;  // 1 text, 2 binary, 8 close, 9 ping, 10 pong.
  std::string payload;
};

// One unmasked (server-to-client) frame.
std::string EncodeFrame(const WebSocketFrame& frame);

// Decodes one frame at the start of `data`, unmasking when masked. Returns
// the frame and sets `*consumed`; OUT_OF_RANGE when `data` holds only a
// partial frame (read more), RESOURCE_EXHAUSTED for a payload above
// `max_payload`.
absl::StatusOr<WebSocketFrame> DecodeFrame(absl::string_view data,
                                           size_t max_payload,
                                           size_t* consumed);

}  // namespace portlease::m2

#endif  // PORTLEASE_TESTS_M2_HTTP_H_
