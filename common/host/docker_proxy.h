// Docker's port publishing, recognised from its process: with the userland
// proxy (Docker's default), every published port is held by a
// `docker-proxy` process whose arguments name the container's side:
//
//   /usr/bin/docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 6379
//       -container-ip 172.17.0.2 -container-port 6379
//
//   std::optional<DockerProxy> proxy = ParseDockerProxy(holder.command);
//   if (proxy) ...  // "published by Docker for container 172.17.0.2:6379"
//
// Stateless: thread-safe.
#ifndef PORTLEASE_COMMON_HOST_DOCKER_PROXY_H_
#define PORTLEASE_COMMON_HOST_DOCKER_PROXY_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace portlease {

struct DockerProxy {
  // "tcp", "udp" or "sctp"; "tcp" when the arguments do not say.
  std::string protocol = "tcp";
  std::string host_ip;
  int host_port = 0;
  std::string container_ip;
  int container_port = 0;

  // "IP:PORT" of the container's side ("[IP]:PORT" for IPv6), or "" when
  // the arguments did not name it.
  std::string ContainerAddress() const;
};

// The proxy described by `command` (a holder's command line, arguments
// joined by single spaces) when its program is docker-proxy; flags as Go's
// flag package takes them (-name value, -name=value, --name value).
// nullopt for any other program.
std::optional<DockerProxy> ParseDockerProxy(absl::string_view command);

}  // namespace portlease

#endif  // PORTLEASE_COMMON_HOST_DOCKER_PROXY_H_
