// The ports entries of a merged compose file (compose_file.h): one entry
// parsed, names made, the whole project's entries collected. Internal to
// portlease_compose.
#ifndef PORTLEASE_CLIENT_COMPOSE_COMPOSE_PORTS_H_
#define PORTLEASE_CLIENT_COMPOSE_COMPOSE_PORTS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "compose/compose_file.h"
#include "yaml-cpp/yaml.h"

namespace portlease {

// Which file each service's merged ports entries came from, by service.
using ComposePortOrigins = std::map<std::string, std::vector<std::string>>;

// Parses one ports entry (a short-syntax scalar or a long-syntax map) into
// entry->host_ip, protocol, targets and long_syntax, substituting
// variables with `lookup`. INVALID_ARGUMENT with the reason only (the
// caller names file, service and entry).
absl::Status ParseComposePortEntry(const YAML::Node& node,
                                   const VariableLookup& lookup,
                                   ComposePortEntry* entry);

// "<service>_<target>" made a valid port name: lower case, characters
// other than [a-z0-9_-] as '_', "s" first unless it starts with a letter,
// the service cut so that the name has at most 32 characters.
std::string ComposePortName(absl::string_view service, int target);

// Fills project.entries, names and udp from project.merged.
absl::Status CollectComposePorts(ComposeProject& project,
                                 const ComposePortOrigins& origins,
                                 const VariableLookup& lookup, int max_ports);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_COMPOSE_COMPOSE_PORTS_H_
