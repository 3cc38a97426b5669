#include "server/probe/system_prober.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/core/pool_config.h"
#include "server/probe/proc_file.h"
#include "server/probe/socket_table.h"

namespace portlease {
namespace {

enum class BindResult {
  kFree,
  kBusy,
  // The host has no IPv6: skip the [::] binds.
  kNoFamily,
};

// Binds a fresh socket of `type` (SOCK_STREAM or SOCK_DGRAM) to the wildcard
// address of `family` on `port`, with SO_REUSEADDR when `reuse_address`,
// and closes it. Any failure other than a missing IPv6 stack counts as busy.
BindResult TryBind(int type, IpFamily family, Port port, bool reuse_address) {
  const bool v6 = family == IpFamily::kV6;
  const int fd = socket(v6 ? AF_INET6 : AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (v6 && (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT)) {
      return BindResult::kNoFamily;
    }
    return BindResult::kBusy;
  }
  absl::Cleanup close_fd = [fd] { close(fd); };
  const int one = 1;
  if (reuse_address &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    return BindResult::kBusy;
  }
  int rc;
  if (v6) {
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) {
      return BindResult::kBusy;
    }
    sockaddr_in6 address;
    std::memset(&address, 0, sizeof(address));
    address.sin6_family = AF_INET6;
    address.sin6_addr = in6addr_any;
    address.sin6_port = htons(port);
    rc = bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  } else {
    sockaddr_in address;
    std::memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    address.sin_port = htons(port);
    rc = bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  }
  if (rc == 0) return BindResult::kFree;
  if (v6 && errno == EADDRNOTAVAIL) return BindResult::kNoFamily;
  return BindResult::kBusy;
}

// Whether `port` can be bound with `type` on 0.0.0.0 and, while `*v6` says
// the host has IPv6, on [::]. Clears `*v6` when IPv6 turns out missing.
bool CanBindBothFamilies(int type, Port port, bool reuse_address, bool* v6) {
  if (TryBind(type, IpFamily::kV4, port, reuse_address) != BindResult::kFree) {
    return false;
  }
  if (!*v6) return true;
  switch (TryBind(type, IpFamily::kV6, port, reuse_address)) {
    case BindResult::kFree:
      return true;
    case BindResult::kNoFamily:
      *v6 = false;
      return true;
    case BindResult::kBusy:
      return false;
  }
  return false;
}

}  // namespace

SystemProber::SystemProber(SystemProberOptions options)
    : options_(std::move(options)) {}

std::vector<Port> SystemProber::Busy(Port first, uint32_t count, bool udp) {
  std::vector<Port> busy;
  if (count == 0) return busy;
  const uint32_t last = std::min<uint32_t>(uint32_t{first} + count - 1, 65535);

  const bool exclusive = options_.exclusive_bind;
  // Without exclusive binds, one read of the tables for the whole range.
  absl::StatusOr<std::vector<SocketEntry>> sockets =
      exclusive
          ? absl::StatusOr<std::vector<SocketEntry>>(std::vector<SocketEntry>())
          : ReadSocketTable(options_.proc_root, {.tcp = true, .udp = udp});
  std::vector<bool> in_table(last - first + 1, false);
  if (sockets.ok()) {
    for (const SocketEntry& socket : *sockets) {
      if (socket.local_port >= first && socket.local_port <= last) {
        in_table[socket.local_port - first] = true;
      }
    }
  }

  bool tcp_v6 = true;
  bool udp_v6 = true;
  for (uint32_t port = first; port <= last; ++port) {
    const Port p = static_cast<Port>(port);
    bool free = p != 0 && sockets.ok() && !in_table[port - first];
    if (exclusive) {
      // Plain binds: the kernel's bind table refuses any socket on the port.
      free = free &&
             CanBindBothFamilies(SOCK_STREAM, p, /*reuse_address=*/false,
                                 &tcp_v6) &&
             (!udp || CanBindBothFamilies(SOCK_DGRAM, p,
                                          /*reuse_address=*/false, &udp_v6));
    } else {
      // The plain (no SO_REUSEADDR) TCP bind runs only for ports no table
      // lists, so the one thing it can add is a socket the tables never
      // show: bound, not listening, with SO_REUSEADDR set.
      free = free &&
             CanBindBothFamilies(SOCK_STREAM, p, /*reuse_address=*/true,
                                 &tcp_v6) &&
             CanBindBothFamilies(SOCK_STREAM, p, /*reuse_address=*/false,
                                 &tcp_v6) &&
             (!udp || CanBindBothFamilies(SOCK_DGRAM, p,
                                          /*reuse_address=*/true, &udp_v6));
    }
    if (!free) busy.push_back(p);
  }
  return busy;
}

absl::StatusOr<PortRange> ReadEphemeralPortRange(absl::string_view proc_root) {
  const std::string path =
      absl::StrCat(proc_root, "/sys/net/ipv4/ip_local_port_range");
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<PortRange> range = ParseEphemeralRange(*text);
  if (!range.ok()) {
    return absl::Status(range.status().code(),
                        absl::StrCat(path, ": ", range.status().message()));
  }
  return range;
}

}  // namespace portlease
