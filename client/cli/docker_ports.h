// Host ports that Docker publishes for containers, as the docker CLI lists
// them: `portlease who --docker` and `portlease preflight --docker` name
// the container behind a port, also when Docker runs without its userland
// proxy (then no process holds the port, only Docker's NAT rules do).
//
//   absl::StatusOr<std::vector<PublishedPort>> published = ListPublishedPorts();
//
// Stateless functions: thread-safe.
#ifndef PORTLEASE_CLIENT_CLI_DOCKER_PORTS_H_
#define PORTLEASE_CLIENT_CLI_DOCKER_PORTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace portlease {

// One host port a container publishes.
struct PublishedPort {
  std::string container;
  uint32_t host_port = 0;
  // "tcp", "udp" or "sctp".
  std::string protocol;
  // As docker lists it, e.g. "0.0.0.0:6379->6379/tcp".
  std::string mapping;

  bool operator==(const PublishedPort&) const = default;
};

// The published ports in the output of
//   docker ps --format '{{.Names}}\t{{.Ports}}'
// (one container per line; ranges such as 0.0.0.0:8000-8001->80-81/tcp
// count every port; exposed ports that are not published are skipped).
std::vector<PublishedPort> ParseDockerPs(absl::string_view text);

// Runs that command (`docker` from PATH) and parses its output.
// NOT_FOUND when there is no docker CLI, UNAVAILABLE with docker's own
// message when it fails (e.g. no daemon), DEADLINE_EXCEEDED after 10 s.
absl::StatusOr<std::vector<PublishedPort>> ListPublishedPorts();

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_CLI_DOCKER_PORTS_H_
