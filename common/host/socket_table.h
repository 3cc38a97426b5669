// The kernel's socket tables: /proc/net/tcp, tcp6, udp and udp6 parsed into
// plain entries, one per socket, the way `ss -tuan` would list them.
//
//   absl::StatusOr<std::vector<SocketEntry>> sockets =
//       ReadSocketTable("/proc", {.tcp = true, .udp = false});
//   for (const SocketEntry& s : *sockets) {
//     if (s.local_port == 8080 && s.state == "LISTEN") ...
//   }
//
// The tables list listening, connected and TIME_WAIT TCP sockets and every
// bound UDP socket of the reader's network namespace. A TCP socket that is
// bound but neither listening nor connected is not in them.
//
// Addresses in the tables are written in the byte order of the host that
// produced them; the parser decodes them for this host.
//
// Everything here is a stateless function: thread-safe.
#ifndef PORTLEASE_COMMON_HOST_SOCKET_TABLE_H_
#define PORTLEASE_COMMON_HOST_SOCKET_TABLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/port/port.h"

namespace portlease {

enum class SocketProtocol { kTcp, kUdp };
enum class IpFamily { kV4, kV6 };

// "tcp" / "udp" and "v4" / "v6", for messages.
absl::string_view ProtocolName(SocketProtocol protocol);
absl::string_view FamilyName(IpFamily family);

// The name of a kernel socket state as `ss` prints it: "LISTEN",
// "ESTABLISHED", "TIME_WAIT", ... For UDP, state 7 (TCP_CLOSE) is "UNCONN".
// Unknown codes give "UNKNOWN".
absl::string_view SocketStateName(SocketProtocol protocol, int state);

// One row of a socket table.
struct SocketEntry {
  SocketProtocol protocol = SocketProtocol::kTcp;
  IpFamily family = IpFamily::kV4;
  // Printable addresses: "127.0.0.1", "0.0.0.0", "::", "::ffff:127.0.0.1".
  std::string local_address;
  Port local_port = 0;
  std::string remote_address;
  Port remote_port = 0;
  // The kernel's state code (1..12) and its name (see SocketStateName).
  int state_code = 0;
  std::string state;
  // Owner of the socket (the uid that created it).
  uint32_t uid = 0;
  // Inode of the socket, matched by /proc/PID/fd/N -> "socket:[inode]".
  // 0 for sockets no file refers to, e.g. TIME_WAIT.
  uint64_t inode = 0;

  bool operator==(const SocketEntry&) const = default;
};

// Parses the text of one /proc/net table; `protocol` and `family` say which
// (tcp6 is {kTcp, kV6}). The header line is skipped; an empty text gives no
// entries. INVALID_ARGUMENT names the first malformed line.
absl::StatusOr<std::vector<SocketEntry>> ParseSocketTable(
    absl::string_view text, SocketProtocol protocol, IpFamily family);

// Which tables ReadSocketTable reads.
struct SocketTableSelection {
  // net/tcp and net/tcp6.
  bool tcp = true;
  // net/udp and net/udp6.
  bool udp = true;
};

// Reads and parses the selected tables under `proc_root`/net/ (proc_root is
// "/proc" on a live host; tests point it at fixture directories). A missing
// table is skipped (a host without IPv6 has no tcp6), so a root with no
// tables at all gives no entries. Entries come in the order tcp, tcp6, udp,
// udp6. Errors: a table that exists but cannot be read (its errno code), or
// INVALID_ARGUMENT for a malformed table.
absl::StatusOr<std::vector<SocketEntry>> ReadSocketTable(
    absl::string_view proc_root, SocketTableSelection selection);

}  // namespace portlease

#endif  // PORTLEASE_COMMON_HOST_SOCKET_TABLE_H_
