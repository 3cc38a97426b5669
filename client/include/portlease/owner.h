// Owner metadata: who holds a lease. Filled automatically by Client::Acquire
// when the request carries none of its own.
//
// Keys: host, user (see UserLookup), pid, pid_start (process start time in
// clock ticks since boot, /proc/self/stat field 22; with pid it names the
// process uniquely), command (the command line, truncated), and the CI
// variables that are set:
// GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT, GITHUB_JOB, GITHUB_REPOSITORY,
// RUNNER_NAME, CI_JOB_ID, CI_PIPELINE_ID, CI_PROJECT_PATH, CI_RUNNER_ID,
// CI_CONCURRENT_ID (under their own names).
#ifndef PORTLEASE_CLIENT_INCLUDE_PORTLEASE_OWNER_H_
#define PORTLEASE_CLIENT_INCLUDE_PORTLEASE_OWNER_H_

#include <map>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "portlease/template.h"

namespace portlease {

using OwnerMetadata = std::map<std::string, std::string>;

// What OwnerMetadata is built from; the seam for tests.
struct ProcessFacts {
  std::string host;
  std::string user;
  int pid = 0;
  // /proc/<pid>/stat field 22; empty when unreadable.
  std::string start_ticks;
  // argv joined with spaces.
  std::string command;
  // Environment lookup for the CI variables.
  VariableLookup environment;
};

// Where the owner's "user" comes from.
enum class UserLookup {
  // This process looks its effective uid up (getpwuid_r: on a host whose
  // nsswitch.conf names nss-systemd, ~0.4 ms of loading and parsing).
  kLocal,
  // Left empty: a server on a Unix socket records the caller's user from
  // the socket's peer credentials, as "user" when the request has none.
  kServer,
};

// Facts about the calling process.
ProcessFacts CurrentProcessFacts(UserLookup user = UserLookup::kLocal);

// Builds the metadata map from `facts`. Values are truncated to 256 bytes.
OwnerMetadata BuildOwnerMetadata(const ProcessFacts& facts);

// The process start time (field 22) from the content of a /proc/<pid>/stat
// file, which may contain spaces and parentheses in the command name.
// nullopt when the content is malformed.
std::optional<std::string> StartTimeFromProcStat(absl::string_view stat);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_INCLUDE_PORTLEASE_OWNER_H_
