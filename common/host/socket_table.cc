#include "common/host/socket_table.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/types/optional.h"
#include "common/system/files.h"

namespace portlease {
namespace {

// Parses exactly `digits` hex digits (no sign, no prefix) into a uint32_t.
absl::optional<uint32_t> ParseHex32(absl::string_view text, size_t digits) {
  if (text.size() != digits) return absl::nullopt;
  for (char c : text) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::nullopt;
    }
  }
  uint32_t value = 0;
  if (!absl::SimpleHexAtoi(text, &value)) return absl::nullopt;
  return value;
}

// Decodes "0100007F:1F90" (v4) or 32 hex digits ":PORT" (v6). The kernel
// prints each 32-bit word of the address in host byte order, so the word's
// in-memory bytes are the address bytes in network order.
bool ParseEndpoint(absl::string_view text, IpFamily family,
                   std::string* address, Port* port) {
  size_t colon = text.find(':');
  if (colon == absl::string_view::npos) return false;
  absl::string_view hex_address = text.substr(0, colon);
  absl::optional<uint32_t> port_value = ParseHex32(text.substr(colon + 1), 4);
  if (!port_value.has_value()) return false;
  *port = static_cast<Port>(*port_value);

  const size_t words = family == IpFamily::kV4 ? 1 : 4;
  if (hex_address.size() != words * 8) return false;
  unsigned char bytes[16];
  for (size_t i = 0; i < words; ++i) {
    absl::optional<uint32_t> word = ParseHex32(hex_address.substr(i * 8, 8), 8);
    if (!word.has_value()) return false;
    std::memcpy(bytes + i * 4, &*word, 4);
  }
  char printable[INET6_ADDRSTRLEN];
  const int af = family == IpFamily::kV4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes, printable, sizeof(printable)) == nullptr) {
    return false;
  }
  *address = printable;
  return true;
}

absl::Status Malformed(absl::string_view line, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed socket table line (", what, "): \"", line, "\""));
}

}  // namespace

absl::string_view ProtocolName(SocketProtocol protocol) {
  return protocol == SocketProtocol::kTcp ? "tcp" : "udp";
}

absl::string_view FamilyName(IpFamily family) {
  return family == IpFamily::kV4 ? "v4" : "v6";
}

absl::string_view SocketStateName(SocketProtocol protocol, int state) {
  // include/net/tcp_states.h
  switch (state) {
    case 1:
      return "ESTABLISHED";
    case 2:
      return "SYN_SENT";
    case 3:
      return "SYN_RECV";
    case 4:
      return "FIN_WAIT1";
    case 5:
      return "FIN_WAIT2";
    case 6:
      return "TIME_WAIT";
    case 7:
      return protocol == SocketProtocol::kUdp ? "UNCONN" : "CLOSE";
    case 8:
      return "CLOSE_WAIT";
    case 9:
      return "LAST_ACK";
    case 10:
      return "LISTEN";
    case 11:
      return "CLOSING";
    case 12:
      return "NEW_SYN_RECV";
    default:
      return "UNKNOWN";
  }
}

absl::StatusOr<std::vector<SocketEntry>> ParseSocketTable(
    absl::string_view text, SocketProtocol protocol, IpFamily family) {
  std::vector<SocketEntry> entries;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.empty()) continue;
    if (fields[0] == "sl") continue;  // The header.
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
    if (fields.size() < 10) return Malformed(line, "too few fields");
    if (!absl::EndsWith(fields[0], ":")) return Malformed(line, "slot");
    SocketEntry entry;
    entry.protocol = protocol;
    entry.family = family;
    if (!ParseEndpoint(fields[1], family, &entry.local_address,
                       &entry.local_port)) {
      return Malformed(line, "local address");
    }
    if (!ParseEndpoint(fields[2], family, &entry.remote_address,
                       &entry.remote_port)) {
      return Malformed(line, "remote address");
    }
    absl::optional<uint32_t> state = ParseHex32(fields[3], 2);
    if (!state.has_value()) return Malformed(line, "state");
    entry.state_code = static_cast<int>(*state);
    entry.state = std::string(SocketStateName(protocol, entry.state_code));
    if (!absl::SimpleAtoi(fields[7], &entry.uid)) return Malformed(line, "uid");
    if (!absl::SimpleAtoi(fields[9], &entry.inode)) {
      return Malformed(line, "inode");
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

absl::StatusOr<std::vector<SocketEntry>> ReadSocketTable(
    absl::string_view proc_root, SocketTableSelection selection) {
  struct Table {
    const char* name;
    SocketProtocol protocol;
    IpFamily family;
    bool wanted;
  };
  const Table tables[] = {
      {"tcp", SocketProtocol::kTcp, IpFamily::kV4, selection.tcp},
      {"tcp6", SocketProtocol::kTcp, IpFamily::kV6, selection.tcp},
      {"udp", SocketProtocol::kUdp, IpFamily::kV4, selection.udp},
      {"udp6", SocketProtocol::kUdp, IpFamily::kV6, selection.udp},
  };
  std::vector<SocketEntry> all;
  for (const Table& table : tables) {
    if (!table.wanted) continue;
    const std::string path = absl::StrCat(proc_root, "/net/", table.name);
    absl::StatusOr<std::string> text = ReadFile(path);
    if (absl::IsNotFound(text.status())) continue;
    if (!text.ok()) return text.status();
    absl::StatusOr<std::vector<SocketEntry>> entries =
        ParseSocketTable(*text, table.protocol, table.family);
    if (!entries.ok()) {
      return absl::Status(entries.status().code(),
                          absl::StrCat(path, ": ", entries.status().message()));
    }
    all.insert(all.end(), std::make_move_iterator(entries->begin()),
               std::make_move_iterator(entries->end()));
  }
  return all;
}

}  // namespace portlease
