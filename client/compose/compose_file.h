// Docker compose files read for lease-run --compose: which files compose
// would read, their merge, every published host port, and the merged file
// rewritten with leased ports.
//
//   absl::StatusOr<ComposeProject> project =
//       LoadComposeProject(files, ProcessEnvironment(), 64);
//   ... lease project->names, in that order ...
//   std::string yaml = RewriteComposeProject(*project, leased_ports, "");
//
// Ports, short syntax "[[HOST_IP:]PUBLISHED:]TARGET[/PROTOCOL]" and long
// syntax {target, published, host_ip, protocol}: every entry is leased,
// also one without a published port (Docker would pick an ephemeral one):
// it is pinned to its leased port, so its variable is known before the
// stack starts. A range gives one port per target port; a published range
// for one target port ("8000-8010:80") one port. ${VAR}, ${VAR:-default},
// ${VAR-default}, $VAR and $$ are resolved in the ports entries from the
// environment, then the project directory's .env file, as compose does.
#ifndef PORTLEASE_CLIENT_COMPOSE_COMPOSE_FILE_H_
#define PORTLEASE_CLIENT_COMPOSE_COMPOSE_FILE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "portlease/template.h"
#include "yaml-cpp/yaml.h"

namespace portlease {

// One entry of a service's merged `ports` list.
struct ComposePortEntry {
  std::string file;  // the file it came from
  std::string service;
  std::string text;  // as written, for messages
  size_t index = 0;  // in the service's merged ports list
  bool long_syntax = false;
  std::string host_ip;       // after substitution, without brackets; "" = all
  std::string protocol;      // "" (tcp) or as written ("udp", "sctp")
  std::vector<int> targets;  // one leased port each
  size_t first_port = 0;     // index of the first in ComposeProject::names
};

struct ComposeProject {
  std::vector<std::string> files;  // absolute, in merge order
  std::string dir;                 // the first file's directory
  YAML::Node merged;               // the files merged, as read
  std::vector<ComposePortEntry> entries;
  // The lease's port names, "<service>_<target>" sanitized to the server's
  // rule ([a-z][a-z0-9_-]{0,31}), made unique ("_udp", "_2", ...).
  std::vector<std::string> names;
  bool udp = false;  // some entry is not tcp
};

// The files `docker compose` reads in `dir` when none is given:
// COMPOSE_FILE (split on COMPOSE_PATH_SEPARATOR, default ':', relative to
// `dir`; from `environment`, else `dir`/.env), else the first of compose.yaml, compose.yml, docker-compose.yaml,
// docker-compose.yml plus its override file (compose.override.yaml, ...)
// when there is one. NOT_FOUND when there is none.
absl::StatusOr<std::vector<std::string>> DefaultComposeFiles(
    const VariableLookup& environment, const std::string& dir);

// Reads and merges `files` (later files override earlier ones: maps are
// merged, scalars replaced, `command`/`entrypoint` lists replaced, other
// lists appended without duplicates: compose's rule for `ports`), then
// finds every ports entry. INVALID_ARGUMENT with one line
// "<file>: service <s>: ports entry "<e>": <why>" (or "<file>: <why>" for
// a YAML error) for a port that is not a number after substitution, a bad
// range, or more than `max_ports` ports in all.
absl::StatusOr<ComposeProject> LoadComposeProject(
    const std::vector<std::string>& files, const VariableLookup& environment,
    int max_ports);

// The merged file with every entry's published port replaced by its
// leased port (`ports[i]` for names[i]), host IP and protocol kept, a range
// written as one entry per port; `header` (comment lines) first.
std::string RewriteComposeProject(const ComposeProject& project,
                                  const std::vector<int>& ports,
                                  absl::string_view header);

// ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?msg}, ${VAR?msg}, $VAR
// and $$ in `text`; unset variables are "". INVALID_ARGUMENT for an
// unterminated "${" or a required variable that is unset.
absl::StatusOr<std::string> InterpolateCompose(absl::string_view text,
                                               const VariableLookup& lookup);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_COMPOSE_COMPOSE_FILE_H_
