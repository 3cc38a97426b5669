#include "common/wire/port_holder.h"

#include <optional>
#include <string>

#include "common/host/docker_proxy.h"
#include "common/host/socket_table.h"

namespace portlease {

std::vector<v1::PortHolder> HolderEntries(const PortHolder& holder) {
  v1::PortHolder base;
  base.set_user(holder.user);
  base.set_protocol(std::string(ProtocolName(holder.socket.protocol)));
  base.set_family(std::string(FamilyName(holder.socket.family)));
  base.set_state(holder.socket.state);
  base.set_local_address(holder.socket.local_address);
  if (holder.processes.empty()) return {base};
  std::vector<v1::PortHolder> entries;
  entries.reserve(holder.processes.size());
  for (const HolderProcess& process : holder.processes) {
    v1::PortHolder& entry = entries.emplace_back(base);
    entry.set_pid(static_cast<int32_t>(process.pid));
    entry.set_command(process.command);
    if (std::optional<DockerProxy> proxy = ParseDockerProxy(process.command)) {
      entry.set_container(proxy->ContainerAddress());
    }
  }
  return entries;
}

}  // namespace portlease
