#include "server/replicated/keys.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace portlease::replicated {
namespace {

constexpr absl::string_view kPorts = "ports/";
constexpr absl::string_view kLeases = "leases/";
constexpr absl::string_view kRequests = "requests/";
constexpr absl::string_view kQuarantine = "quarantine/";

std::optional<Port> ParsePort(absl::string_view digits) {
  uint32_t port = 0;
  if (digits.size() != 5 || !absl::SimpleAtoi(digits, &port) || port == 0 ||
      port > 65535) {
    return std::nullopt;
  }
  return static_cast<Port>(port);
}

}  // namespace

std::string KeySpace::PortIn(absl::string_view folder, uint32_t port) const {
  return absl::StrCat(prefix_, folder, absl::StrFormat("%05u", port));
}

std::string KeySpace::PortKey(Port port) const {
  return PortIn(kPorts, port);
}

std::string KeySpace::PortEnd(Port last) const {
  // Port 65535's successor "65536" still sorts after every 5-digit port.
  return PortIn(kPorts, uint32_t{last} + 1);
}

std::string KeySpace::LeaseKey(absl::string_view id) const {
  return absl::StrCat(prefix_, kLeases, id);
}

std::string KeySpace::RequestKey(absl::string_view caller,
                              absl::string_view request_id) const {
  return absl::StrCat(prefix_, kRequests, Escape(caller), "/",
                      Escape(request_id));
}

std::string KeySpace::QuarantineKey(Port port) const {
  return PortIn(kQuarantine, port);
}

std::string KeySpace::QuarantineEnd(Port last) const {
  return PortIn(kQuarantine, uint32_t{last} + 1);
}

KeySpace::Parsed KeySpace::Parse(absl::string_view key) const {
  Parsed parsed;
  if (!absl::ConsumePrefix(&key, prefix_)) return parsed;
  if (absl::ConsumePrefix(&key, kPorts)) {
    if (auto port = ParsePort(key)) {
      parsed.kind = Kind::kPort;
      parsed.port = *port;
    }
  } else if (absl::ConsumePrefix(&key, kQuarantine)) {
    if (auto port = ParsePort(key)) {
      parsed.kind = Kind::kQuarantine;
      parsed.port = *port;
    }
  } else if (absl::ConsumePrefix(&key, kLeases)) {
    parsed.kind = Kind::kLease;
    parsed.id = std::string(key);
  } else if (absl::StartsWith(key, kRequests)) {
    parsed.kind = Kind::kRequest;
  }
  return parsed;
}

std::string KeySpace::Escape(absl::string_view text) {
  std::string out;
  for (char c : text) {
    const bool plain = absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                       c == ':' || c == '.' || c == '_' || c == '@' ||
                       c == '-';
    if (plain) {
      out.push_back(c);
    } else {
      absl::StrAppend(&out, absl::StrFormat("%%%02X", static_cast<unsigned char>(c)));
    }
  }
  return out;
}

}  // namespace portlease::replicated
