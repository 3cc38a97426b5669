#include "tests/m2/http.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portlease::m2 {
namespace {

std::string Hex(const std::array<uint8_t, 20>& digest) {
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest.data()), digest.size()));
}

TEST(Sha1Test, KnownVectors) {
  EXPECT_EQ(Hex(Sha1("")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(Hex(Sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(
      Hex(Sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
      "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(Hex(Sha1(std::string(1000, 'a'))),
            "291e9a6c66994949b57ba5e650361e98fc36b1ba");
}

TEST(WebSocketTest, AcceptKeyMatchesRfc6455Example) {
  EXPECT_EQ(WebSocketAccept("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketTest, DecodesMaskedClientFrames) {
  // RFC 6455 5.7: a masked "Hello".
  const std::string wire("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
  size_t consumed = 0;
  absl::StatusOr<WebSocketFrame> frame = DecodeFrame(wire, 1024, &consumed);
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(consumed, wire.size());
  EXPECT_TRUE(frame->fin);
  EXPECT_EQ(frame->opcode, 1);
  EXPECT_EQ(frame->payload, "Hello");
  for (size_t n = 0; n < wire.size(); ++n) {
    EXPECT_TRUE(absl::IsOutOfRange(
        DecodeFrame(wire.substr(0, n), 1024, &consumed).status()));
  }
  EXPECT_TRUE(
      absl::IsResourceExhausted(DecodeFrame(wire, 4, &consumed).status()));
}

TEST(WebSocketTest, EncodeDecodeRoundTripsAllLengthForms) {
  for (size_t len : {0, 125, 126, 65535, 65536}) {
    const std::string wire = EncodeFrame({true, 2, std::string(len, 'x')});
    size_t consumed = 0;
    absl::StatusOr<WebSocketFrame> frame =
        DecodeFrame(wire, 1 << 20, &consumed);
    ASSERT_TRUE(frame.ok()) << len;
    EXPECT_EQ(consumed, wire.size());
    EXPECT_EQ(frame->opcode, 2);
    EXPECT_EQ(frame->payload.size(), len);
  }
}

TEST(HttpTest, ParsesRequestHead) {
  absl::StatusOr<HttpRequest> request = ParseRequestHead(
      "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\n"
      "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key:  abc \r\n\r\n");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->method, "GET");
  EXPECT_EQ(request->target, "/chat");
  EXPECT_EQ(request->version, "HTTP/1.1");
  EXPECT_EQ(request->Header("sec-websocket-key"), "abc");
  EXPECT_EQ(request->Header("missing"), "");
  EXPECT_TRUE(request->IsWebSocketUpgrade());

  request = ParseRequestHead("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(request.ok());
  EXPECT_FALSE(request->IsWebSocketUpgrade());
}

TEST(HttpTest, RejectsMalformedHeads) {
  for (const char* bad : {"", "GET /\r\n\r\n", "GET / FTP/1\r\n\r\n",
                          "GET / HTTP/1.1\r\nno colon\r\n\r\n"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseRequestHead(bad).status())) << bad;
  }
}

TEST(HttpTest, FormatsResponses) {
  EXPECT_EQ(FormatResponse(200, "OK", "text/plain", "ok\n"),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
            "Content-Length: 3\r\nConnection: close\r\n\r\nok\n");
}

}  // namespace
}  // namespace portlease::m2
