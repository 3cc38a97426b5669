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
#include "common/host/socket_table.h"
#include "common/system/files.h"
#include "server/core/pool_config.h"

namespace portlease {
namespace {

enum class BindResult {
  kFree,
  kBusy,
  // The host has no IPv6: skip the [::] binds.
  kNoFamily,
  // This process lacks a resource (file descriptors, memory): the probe
  // says nothing about the port.
  kFault,
};

// Errors that are the server's own shortage, never the port's state.
bool IsResourceFault(int error) {
  return error == EMFILE || error == ENFILE || error == ENOMEM ||
         error == ENOBUFS;
}

// The status a probe fault becomes: one line, saying what ran out.
absl::Status FaultStatus(int error) {
  const bool fds = error == EMFILE || error == ENFILE;
  return absl::UnavailableError(absl::StrCat(
      fds ? "server out of file descriptors" : "server out of memory",
      " (", std::strerror(error), ") while probing ports; nothing was "
      "granted or marked busy: retry, and raise the server's ",
      fds ? "open-file limit (ulimit -n, LimitNOFILE) or lower "
            "--max-connections"
          : "memory"));
}

// Which wildcard address a probe socket binds: 0.0.0.0, [::] with
// IPV6_V6ONLY=1, or [::] with IPV6_V6ONLY=0 (both families at once).
enum class BindFamily { kV4, kV6, kDual };

// Binds a fresh socket of `type` (SOCK_STREAM or SOCK_DGRAM) to the wildcard
// address of `family` on `port`, with SO_REUSEADDR when `reuse_address`,
// and closes it. A resource fault (IsResourceFault) is kFault, its errno in
// `*fault`; any other failure than a missing IPv6 stack counts as busy.
BindResult TryBind(int type, BindFamily family, Port port, bool reuse_address,
                   int* fault) {
  const bool v6 = family != BindFamily::kV4;
  const int fd = socket(v6 ? AF_INET6 : AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (v6 && (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT)) {
      return BindResult::kNoFamily;
    }
    if (IsResourceFault(errno)) {
      *fault = errno;
      return BindResult::kFault;
    }
    return BindResult::kBusy;
  }
  absl::Cleanup close_fd = [fd] { close(fd); };
  const int one = 1;
  // What a failed call means: the server's shortage, or a busy port.
  auto failed = [fault] {
    if (!IsResourceFault(errno)) return BindResult::kBusy;
    *fault = errno;
    return BindResult::kFault;
  };
  if (reuse_address &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    return failed();
  }
  int rc;
  if (v6) {
    const int v6only = family == BindFamily::kV6 ? 1 : 0;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) !=
        0) {
      return failed();
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
  return failed();
}

// Whether `port` can be bound with `type` on 0.0.0.0 and, while `*v6` says
// the host has IPv6, on [::]. With `dual`, one dual-stack bind answers for
// both. Clears `*v6` when IPv6 turns out missing. False on a fault too, with
// its errno in `*fault` (the caller then stops probing).
bool CanBindBothFamilies(int type, Port port, bool reuse_address, bool dual,
                         bool* v6, int* fault) {
  if (dual && *v6) {
    switch (TryBind(type, BindFamily::kDual, port, reuse_address, fault)) {
      case BindResult::kFree:
        return true;
      case BindResult::kBusy:
      case BindResult::kFault:
        return false;
      case BindResult::kNoFamily:
        *v6 = false;  // IPv4 alone, below
        break;
    }
  }
  if (TryBind(type, BindFamily::kV4, port, reuse_address, fault) !=
      BindResult::kFree) {
    return false;
  }
  if (!*v6) return true;
  switch (TryBind(type, BindFamily::kV6, port, reuse_address, fault)) {
    case BindResult::kFree:
      return true;
    case BindResult::kNoFamily:
      *v6 = false;
      return true;
    case BindResult::kBusy:
    case BindResult::kFault:
      return false;
  }
  return false;
}

// Binds a socket of `type` to `address` (IPv4, port 0: the kernel picks)
// and returns it with its port; -1 on failure.
int BindAnyPort(int type, in_addr_t address, Port* port) {
  const int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(address);
  socklen_t size = sizeof(sa);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &size) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(sa.sin_port);
  return fd;
}

// Whether this kernel refuses a dual-stack bind on [::] for a port that an
// IPv4 socket holds, on the wildcard address and on 127.0.0.1: then one
// such bind answers for both families. False when unsure (no IPv6, or any
// step fails), which keeps the two binds.
bool DualStackBindSeesIpv4(int type) {
  for (in_addr_t address : {INADDR_ANY, INADDR_LOOPBACK}) {
    Port port = 0;
    const int holder = BindAnyPort(type, address, &port);
    if (holder < 0) return false;
    absl::Cleanup close_holder = [holder] { close(holder); };
    int fault = 0;
    if (TryBind(type, BindFamily::kDual, port, /*reuse_address=*/false,
                &fault) != BindResult::kBusy) {
      return false;
    }
  }
  return true;
}

}  // namespace

SystemProber::SystemProber(SystemProberOptions options)
    : options_(std::move(options)),
      dual_tcp_(options_.exclusive_bind && options_.dual_stack_bind &&
                DualStackBindSeesIpv4(SOCK_STREAM)),
      dual_udp_(options_.exclusive_bind && options_.dual_stack_bind &&
                DualStackBindSeesIpv4(SOCK_DGRAM)) {}

absl::StatusOr<std::vector<Port>> SystemProber::Busy(Port first,
                                                     uint32_t count,
                                                     bool udp) {
  std::vector<Port> busy;
  if (count == 0) return busy;
  const uint32_t last = std::min<uint32_t>(uint32_t{first} + count - 1, 65535);

  const bool exclusive = options_.exclusive_bind;
  // Without exclusive binds, one read of the tables for the whole range.
  absl::StatusOr<std::vector<SocketEntry>> sockets =
      exclusive
          ? absl::StatusOr<std::vector<SocketEntry>>(std::vector<SocketEntry>())
          : ReadSocketTable(options_.proc_root, {.tcp = true, .udp = udp});
  if (!sockets.ok() && absl::IsResourceExhausted(sockets.status())) {
    // The table could not be read for want of descriptors or memory
    // (ErrnoStatus maps EMFILE, ENFILE and ENOMEM so): not the ports.
    return absl::UnavailableError(absl::StrCat(
        "server out of file descriptors or memory while probing ports (",
        sockets.status().message(), "); nothing was granted or marked busy: "
        "retry, and raise the server's open-file limit"));
  }
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
  int fault = 0;
  for (uint32_t port = first; port <= last; ++port) {
    const Port p = static_cast<Port>(port);
    bool free = p != 0 && sockets.ok() && !in_table[port - first];
    if (exclusive) {
      // Plain binds: the kernel's bind table refuses any socket on the port.
      free = free &&
             CanBindBothFamilies(SOCK_STREAM, p, /*reuse_address=*/false,
                                 dual_tcp_, &tcp_v6, &fault) &&
             (!udp || CanBindBothFamilies(SOCK_DGRAM, p,
                                          /*reuse_address=*/false, dual_udp_,
                                          &udp_v6, &fault));
    } else {
      // The plain (no SO_REUSEADDR) TCP bind runs only for ports no table
      // lists, so the one thing it can add is a socket the tables never
      // show: bound, not listening, with SO_REUSEADDR set.
      free = free &&
             CanBindBothFamilies(SOCK_STREAM, p, /*reuse_address=*/true,
                                 /*dual=*/false, &tcp_v6, &fault) &&
             CanBindBothFamilies(SOCK_STREAM, p, /*reuse_address=*/false,
                                 /*dual=*/false, &tcp_v6, &fault) &&
             (!udp || CanBindBothFamilies(SOCK_DGRAM, p,
                                          /*reuse_address=*/true,
                                          /*dual=*/false, &udp_v6, &fault));
    }
    if (fault != 0) return FaultStatus(fault);
    if (!free) busy.push_back(p);
  }
  return busy;
}

absl::StatusOr<std::vector<Port>> SystemProber::Held(Port first,
                                                     uint32_t count,
                                                     bool udp) {
  absl::StatusOr<std::vector<Port>> busy_or = Busy(first, count, udp);
  if (!busy_or.ok()) return busy_or;
  std::vector<Port>& busy = *busy_or;
  if (busy.empty() || !options_.exclusive_bind) return busy_or;
  // Refused a plain bind: held only if a SO_REUSEADDR bind is refused too,
  // on 0.0.0.0 and on [::] each (no dual-stack shortcut: the start-up check
  // was made without SO_REUSEADDR), and for `udp` the plain UDP bind again.
  std::vector<Port> held;
  bool tcp_v6 = true;
  bool udp_v6 = true;
  int fault = 0;
  for (Port p : busy) {
    const bool free =
        p != 0 &&
        CanBindBothFamilies(SOCK_STREAM, p, /*reuse_address=*/true,
                            /*dual=*/false, &tcp_v6, &fault) &&
        (!udp || CanBindBothFamilies(SOCK_DGRAM, p, /*reuse_address=*/false,
                                     dual_udp_, &udp_v6, &fault));
    if (fault != 0) return FaultStatus(fault);
    if (!free) held.push_back(p);
  }
  return held;
}

absl::StatusOr<PortRange> ReadEphemeralPortRange(absl::string_view proc_root) {
  const std::string path =
      absl::StrCat(proc_root, "/sys/net/ipv4/ip_local_port_range");
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<PortRange> range = ParseEphemeralRange(*text);
  if (!range.ok()) {
    return absl::Status(range.status().code(),
                        absl::StrCat(path, ": ", range.status().message()));
  }
  return range;
}

}  // namespace portlease
