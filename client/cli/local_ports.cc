// What this host says about a port: a bind test, and its holders from the
// probe layer's socket tables and /proc.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/host/port_holders.h"
#include "cli/cli_internal.h"
#include "common/wire/port_holder.h"

namespace portlease {
namespace {

bool TcpBindFails(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  const bool failed =
      bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0;
  close(fd);
  return failed;
}

}  // namespace

LocalPortState InspectLocalPort(uint16_t port) {
  LocalPortState state;
  state.bind_failed = TcpBindFails(port);
  const Port ports[] = {port};
  absl::StatusOr<std::vector<PortHolder>> holders = FindPortHolders(ports);
  if (!holders.ok()) return state;
  for (const PortHolder& holder : *holders) {
    const SocketEntry& socket = holder.socket;
    if (socket.local_port != port) continue;
    if (holder.holders_hidden) state.holders_hidden = true;
    for (v1::PortHolder& entry : HolderEntries(holder)) {
      state.holders.push_back(std::move(entry));
    }
  }
  return state;
}

}  // namespace portlease
