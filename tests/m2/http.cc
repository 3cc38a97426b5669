#include "tests/m2/http.h"

#include <cstring>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace portlease::m2 {
namespace {

constexpr absl::string_view kWebSocketGuid =
    "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

uint32_t RotateLeft(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

}  // namespace

std::string HttpRequest::Header(absl::string_view name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

bool HttpRequest::IsWebSocketUpgrade() const {
  return absl::StrContains(absl::AsciiStrToLower(Header("connection")),
                           "upgrade") &&
         absl::EqualsIgnoreCase(Header("upgrade"), "websocket");
}

absl::StatusOr<HttpRequest> ParseRequestHead(absl::string_view head) {
  if (size_t end = head.find("\r\n\r\n"); end != absl::string_view::npos) {
    head = head.substr(0, end);
  }
  std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
  if (lines.empty() || lines[0].empty()) {
    return absl::InvalidArgumentError("empty request");
  }
  std::vector<absl::string_view> parts = absl::StrSplit(lines[0], ' ');
  if (parts.size() != 3 || !absl::StartsWith(parts[2], "HTTP/")) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad request line '", lines[0], "'"));
  }
  HttpRequest request;
  request.method = std::string(parts[0]);
  request.target = std::string(parts[1]);
  request.version = std::string(parts[2]);
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos || colon == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad header line '", lines[i], "'"));
    }
    request.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
  }
  return request;
}

std::string FormatResponse(int code, absl::string_view reason,
                           absl::string_view content_type,
                           absl::string_view body) {
  return absl::StrCat("HTTP/1.1 ", code, " ", reason,
                      "\r\nContent-Type: ", content_type,
                      "\r\nContent-Length: ", body.size(),
                      "\r\nConnection: close\r\n\r\n", body);
}

std::array<uint8_t, 20> Sha1(absl::string_view data) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::string msg(data);
  const uint64_t bit_len = static_cast<uint64_t>(data.size()) * 8;
  msg.push_back(static_cast<char>(0x80));
  while (msg.size() % 64 != 56) msg.push_back('\0');
  for (int i = 7; i >= 0; --i) {
    msg.push_back(static_cast<char>((bit_len >> (8 * i)) & 0xff));
  }
  for (size_t block = 0; block < msg.size(); block += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; ++i) {
      const auto* p =
          reinterpret_cast<const unsigned char*>(msg.data() + block + 4 * i);
      w[i] = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
             (uint32_t{p[2]} << 8) | uint32_t{p[3]};
    }
    for (int i = 16; i < 80; ++i) {
      w[i] = RotateLeft(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      uint32_t f, k;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDC;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6;
      }
      const uint32_t t = RotateLeft(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = RotateLeft(b, 30);
      b = a;
      a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
  std::array<uint8_t, 20> digest;
  for (int i = 0; i < 20; ++i) {
    digest[i] = static_cast<uint8_t>(h[i / 4] >> (24 - 8 * (i % 4)));
  }
  return digest;
}

std::string WebSocketAccept(absl::string_view key) {
  const std::array<uint8_t, 20> digest =
      Sha1(absl::StrCat(key, kWebSocketGuid));
  return absl::Base64Escape(absl::string_view(
      reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::string EncodeFrame(const WebSocketFrame& frame) {
  std::string out;
  out.push_back(
      static_cast<char>((frame.fin ? 0x80 : 0) | (frame.opcode & 0x0f)));
  const uint64_t len = frame.payload.size();
  if (len < 126) {
    out.push_back(static_cast<char>(len));
  } else if (len <= 0xffff) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>(len >> 8));
    out.push_back(static_cast<char>(len & 0xff));
  } else {
    out.push_back(static_cast<char>(127));
    for (int i = 7; i >= 0; --i) {
      out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
    }
  }
  out += frame.payload;
  return out;
}

absl::StatusOr<WebSocketFrame> DecodeFrame(absl::string_view data,
                                           size_t max_payload,
                                           size_t* consumed) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(data[i]); };
  if (data.size() < 2) return absl::OutOfRangeError("partial frame");
  WebSocketFrame frame;
  frame.fin = (byte(0) & 0x80) != 0;
  frame.opcode = byte(0) & 0x0f;
  const bool masked = (byte(1) & 0x80) != 0;
  uint64_t len = byte(1) & 0x7f;
  size_t pos = 2;
  const size_t extra = len == 126 ? 2 : len == 127 ? 8 : 0;
  if (data.size() < pos + extra) return absl::OutOfRangeError("partial frame");
  if (extra != 0) {
    len = 0;
    for (size_t i = 0; i < extra; ++i) len = (len << 8) | byte(pos + i);
    pos += extra;
  }
  if (len > max_payload) {
    return absl::ResourceExhaustedError(
        absl::StrCat("frame payload of ", len, " bytes"));
  }
  uint8_t mask[4] = {0, 0, 0, 0};
  if (masked) {
    if (data.size() < pos + 4) return absl::OutOfRangeError("partial frame");
    for (int i = 0; i < 4; ++i) mask[i] = byte(pos + i);
    pos += 4;
  }
  if (data.size() < pos + len) return absl::OutOfRangeError("partial frame");
  frame.payload = std::string(data.substr(pos, len));
  if (masked) {
    for (size_t i = 0; i < frame.payload.size(); ++i) {
      frame.payload[i] = static_cast<char>(frame.payload[i] ^ mask[i % 4]);
    }
  }
  *consumed = pos + len;
  return frame;
}

}  // namespace portlease::m2
