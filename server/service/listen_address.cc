#include "server/service/listen_address.h"

#include <arpa/inet.h>
#include <sys/un.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace portlease {

std::string ListenAddress::ToString() const {
  if (kind == Kind::kUnix) return absl::StrCat("unix:", path);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text) {
  ListenAddress address;
  if (absl::ConsumePrefix(&text, "unix:")) {
    // gRPC also accepts unix:///abs/path.
    if (absl::StartsWith(text, "//")) text.remove_prefix(2);
    if (text.empty()) {
      return absl::InvalidArgumentError(
          "listen address \"unix:\" has no socket path");
    }
    if (text.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return absl::InvalidArgumentError(
          absl::StrCat("listen address unix:", text, ": path is ", text.size(),
                       " bytes; Unix socket paths must be under ",
                       sizeof(sockaddr_un{}.sun_path)));
    }
    address.path = std::string(text);
    return address;
  }
  const size_t colon = text.rfind(':');
  const absl::string_view host =
      colon == absl::string_view::npos ? "" : text.substr(0, colon);
  const absl::string_view port =
      colon == absl::string_view::npos ? "" : text.substr(colon + 1);
  uint32_t port_number = 0;
  const bool bracketed_ok =
      !absl::StrContains(host, ':') ||
      (absl::StartsWith(host, "[") && absl::EndsWith(host, "]"));
  if (host.empty() || !bracketed_ok || !absl::SimpleAtoi(port, &port_number) ||
      port_number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen address \"", text,
        "\" is neither unix:PATH nor HOST:PORT (e.g. 127.0.0.1:7700, "
        "[::1]:7700, localhost:0)"));
  }
  address.kind = ListenAddress::Kind::kTcp;
  address.host = std::string(host);
  address.port = static_cast<uint16_t>(port_number);
  return address;
}

bool IsLoopbackHost(absl::string_view host) {
  if (host == "localhost") return true;
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) {
    host = host.substr(1, host.size() - 2);
  }
  const std::string text(host);
  in_addr v4;
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

}  // namespace portlease
