#include "server/core/principal.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace portlease {

std::string UidPrincipal(uint32_t uid) { return absl::StrCat("uid:", uid); }

std::string AddressPrincipal(absl::string_view ip) {
  std::string address = absl::AsciiStrToLower(absl::StrReplaceAll(
      ip, {{"%5B", "["}, {"%5b", "["}, {"%5D", "]"}, {"%5d", "]"}}));
  absl::string_view rest = address;
  if (absl::ConsumePrefix(&rest, "[")) absl::ConsumeSuffix(&rest, "]");
  absl::ConsumePrefix(&rest, "::ffff:");  // IPv4-mapped: the IPv4 address
  if (rest == "::1" || rest == "0:0:0:0:0:0:0:1" ||
      absl::StartsWith(rest, "127.")) {
    return "addr:loopback";
  }
  return absl::StrCat("addr:", rest);
}

std::string CertificatePrincipal(absl::string_view name) {
  return absl::StrCat("x509:", name);
}

std::string LegacyPrincipal(const Metadata& owner) {
  auto uid = owner.find("peer_uid");
  uint32_t value = 0;
  if (uid != owner.end() && absl::SimpleAtoi(uid->second, &value)) {
    return UidPrincipal(value);
  }
  auto addr = owner.find("peer_addr");
  if (addr != owner.end() && !addr->second.empty()) {
    return AddressPrincipal(addr->second);
  }
  return "";
}

}  // namespace portlease
