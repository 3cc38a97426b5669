// Who holds a port: for a set of ports, the sockets using them (from the
// socket tables) and the processes owning those sockets (from
// /proc/PID/fd/* -> "socket:[INODE]"), for messages like
//   port 20001 (tcp v4 127.0.0.1 LISTEN) held by pid 4242 "redis-server
//   --port 20001" user ci
//
// Best effort: without root, other users' /proc/PID/fd cannot be read, so
// their sockets come back with `holders_hidden` set; callers should then
// suggest running as root to see the holder. Processes are scanned once per
// call; one that exits meanwhile is simply not (or partly) reported.
//
// Stateless functions: thread-safe.
#ifndef PORTLEASE_COMMON_HOST_PORT_HOLDERS_H_
#define PORTLEASE_COMMON_HOST_PORT_HOLDERS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/host/socket_table.h"
#include "common/port/port.h"

namespace portlease {

// A process with a file descriptor on the socket.
struct HolderProcess {
  int64_t pid = 0;
  // /proc/PID/cmdline with arguments joined by single spaces; "[comm]" for
  // processes without a command line (kernel threads, zombies); empty if the
  // process exited before it could be read.
  std::string command;

  bool operator==(const HolderProcess&) const = default;
};

// One socket using one of the requested ports.
struct PortHolder {
  // Protocol, family, local address and port, state, uid, inode.
  SocketEntry socket;
  // User name of socket.uid, or the uid in decimal when it has no name.
  std::string user;
  // Processes sharing the socket (after fork, several), by increasing pid.
  std::vector<HolderProcess> processes;
  // The socket belongs to a process this caller cannot see (the socket has
  // an inode, but no readable /proc/PID/fd refers to it). Never set for
  // sockets without an inode (TIME_WAIT), which have no process at all.
  bool holders_hidden = false;
};

struct PortHolderOptions {
  // Root of the proc filesystem; tests point it at fixture directories.
  std::string proc_root = "/proc";
  // Also look at UDP sockets.
  bool udp = true;
};

// The sockets whose local port is in `ports`, in socket table order (tcp,
// tcp6, udp, udp6), with their owners. Errors: those of ReadSocketTable,
// and the errno code when `options.proc_root` itself cannot be listed.
absl::StatusOr<std::vector<PortHolder>> FindPortHolders(
    absl::Span<const Port> ports, const PortHolderOptions& options = {});

}  // namespace portlease

#endif  // PORTLEASE_COMMON_HOST_PORT_HOLDERS_H_
