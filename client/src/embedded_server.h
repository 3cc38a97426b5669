// The embedded default server: a private portleased per user, found or
// started on demand (see portlease/address.h for the rules).
#ifndef PORTLEASE_CLIENT_SRC_EMBEDDED_SERVER_H_
#define PORTLEASE_CLIENT_SRC_EMBEDDED_SERVER_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "portlease/template.h"

namespace portlease {

struct EmbeddedPaths {
  std::string runtime_dir;  // socket, pid file, start lock
  std::string state_dir;    // database, log
  std::string socket;       // runtime_dir/portleased.sock
  std::string pid_file;     // runtime_dir/portleased.pid
  std::string lock_file;    // runtime_dir/start.lock
  std::string database;     // state_dir/leases.db
  std::string log_file;     // state_dir/portleased.log

  std::string address() const { return "unix:" + socket; }
};

// The paths for the environment `env` (XDG_RUNTIME_DIR, XDG_STATE_HOME,
// HOME) and user id `uid`. Pure.
EmbeddedPaths EmbeddedServerPaths(const VariableLookup& env, unsigned uid);

// Creates the directories (mode 0700). For the /tmp fallback the runtime dir
// must be owned by `uid` and not accessible to others: PERMISSION_DENIED
// otherwise.
absl::Status PrepareEmbeddedDirs(const EmbeddedPaths& paths, unsigned uid);

// $PORTLEASE_SERVER_BIN, else portleased next to /proc/self/exe, else on
// $PATH. FAILED_PRECONDITION when none is executable.
absl::StatusOr<std::string> FindServerBinary(const VariableLookup& env);

// Answers whether a server listens at an address: the Status version, or an
// error.
using ServerProbe =
    std::function<absl::StatusOr<std::string>(const std::string& address)>;

// Ensures the embedded server runs: probes it; otherwise, holding an
// exclusive flock on paths.lock_file (so concurrent callers start one
// server), probes again and starts `binary` daemonized (setsid, double fork,
// stdio to the log file), writes its pid to paths.pid_file and waits until
// it reports ready and answers `probe`. Sets *started when it started it.
// Fails with FAILED_PRECONDITION on a version mismatch.
absl::Status EnsureEmbeddedServer(const EmbeddedPaths& paths,
                                  const std::string& binary,
                                  const ServerProbe& probe,
                                  absl::Duration timeout, bool* started);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_SRC_EMBEDDED_SERVER_H_
