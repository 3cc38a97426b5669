// The embedded default server: a private portleased per user, found or
// started on demand (see portlease/address.h for the rules), and managed
// like a per-user daemon: predictable paths, one stderr line when it is
// started, a pid file that identifies it (pid and start time, so a reused
// pid is never taken for it), a clean environment, flags from a config
// file, and an idle exit. `portlease server status|stop` (client/cli/) use
// the functions below.
#ifndef PORTLEASE_CLIENT_LIB_EMBEDDED_SERVER_H_
#define PORTLEASE_CLIENT_LIB_EMBEDDED_SERVER_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "portlease/template.h"

namespace portlease {

// The private server exits after this long without leases or clients
// unless its flags say otherwise (portleased --idle-exit).
inline constexpr char kEmbeddedIdleExit[] = "15m";

struct EmbeddedPaths {
  std::string runtime_dir;  // socket, pid file, start lock
  std::string state_dir;    // database, log
  std::string socket;       // runtime_dir/portleased.sock
  std::string pid_file;     // runtime_dir/portleased.pid
  std::string lock_file;    // runtime_dir/start.lock
  std::string database;     // state_dir/leases.db
  std::string log_file;     // state_dir/portleased.log
  // $XDG_CONFIG_HOME/portlease/portleased.conf, else
  // $HOME/.config/portlease/portleased.conf; empty without either.
  std::string config_file;

  std::string address() const { return "unix:" + socket; }
};

// The paths for the environment `env` (XDG_RUNTIME_DIR, XDG_STATE_HOME,
// XDG_CONFIG_HOME, HOME) and user id `uid`. Pure.
EmbeddedPaths EmbeddedServerPaths(const VariableLookup& env, unsigned uid);

// Creates the directories (mode 0700). For the /tmp fallback the runtime dir
// must be owned by `uid` and not accessible to others: PERMISSION_DENIED
// otherwise.
absl::Status PrepareEmbeddedDirs(const EmbeddedPaths& paths, unsigned uid);

// $PORTLEASE_SERVER_BIN, else portleased next to /proc/self/exe, else on
// $PATH. FAILED_PRECONDITION when none is executable.
absl::StatusOr<std::string> FindServerBinary(const VariableLookup& env);

// The user's flags for the private server, and where they came from.
struct EmbeddedServerArgs {
  std::vector<std::string> args;  // "--pool=20000-20099", ...
  std::string source;  // "PORTLEASE_SERVER_ARGS", a file path, or empty
};

// Parses a config file's text: one --flag or --flag=value a line, blank
// lines and lines starting with '#' ignored, surrounding blanks trimmed.
// `source` names the file in errors. INVALID_ARGUMENT "FILE:LINE: ..." for
// a line that is not a --flag, or for --listen, --db and --ready-fd (the
// client sets those: the paths above).
absl::StatusOr<std::vector<std::string>> ParseServerArgsText(
    absl::string_view text, absl::string_view source);

// $PORTLEASE_SERVER_ARGS when set and not blank (whitespace-separated
// flags), else paths.config_file when it exists, else nothing.
// INVALID_ARGUMENT (naming the variable or the file) as
// ParseServerArgsText; a config file that exists but cannot be read is
// PERMISSION_DENIED naming it.
absl::StatusOr<EmbeddedServerArgs> LoadEmbeddedServerArgs(
    const VariableLookup& env, const EmbeddedPaths& paths);

// The environment the private server gets: of `environ` ("KEY=value"),
// only PATH, HOME, LANG, LC_* and XDG_*. Pure.
std::vector<std::string> EmbeddedServerEnvironment(
    const std::vector<std::string>& environ);

// What the pid file records: the daemon's pid and its start time (field 22
// of /proc/PID/stat).
struct EmbeddedPid {
  pid_t pid = 0;
  uint64_t start_time = 0;
};

// Reads the pid file. NOT_FOUND when it does not exist; INVALID_ARGUMENT
// when malformed. A file from an older client holds the pid only
// (start_time 0).
absl::StatusOr<EmbeddedPid> ReadEmbeddedPidFile(const std::string& path);

// True when `recorded` is the running private server: the process exists,
// is not a zombie, and started at the recorded time (for an old pid file
// without a start time: is named portleased). A reused pid is never the
// server.
bool IsEmbeddedServerProcess(const EmbeddedPid& recorded);

// OK when `version` (a running embedded server's Status answer) is this
// client's; else FAILED_PRECONDITION saying how to stop that server.
absl::Status CheckEmbeddedServerVersion(const std::string& version,
                                        const EmbeddedPaths& paths);

// Answers whether a server listens at an address: the Status version, or an
// error.
using ServerProbe =
    std::function<absl::StatusOr<std::string>(const std::string& address)>;

// A probe that failed is not proof that no server runs: a loaded host can
// make a live server answer later than the probe waits. True when the
// process holding the socket's lock file (<socket>.lock) is a running
// portleased.
bool EmbeddedServerAlive(const EmbeddedPaths& paths);

// Probes the server at paths.address() until it answers (OK; *version is
// set), no portleased holds its socket any more (NOT_FOUND), or `deadline`
// (UNAVAILABLE with the last probe error).
absl::Status AwaitLiveServer(const EmbeddedPaths& paths,
                             const ServerProbe& probe, absl::Time deadline,
                             std::string* version);

// Ensures the embedded server runs: probes it; otherwise, holding an
// exclusive flock on paths.lock_file (so concurrent callers start one
// server), probes again and starts `binary` with its flags
// (LoadEmbeddedServerArgs, after --listen, --db and --idle-exit=15m, so
// they may override the idle time), daemonized: its own session, double
// fork, working directory "/", stdin and stdout /dev/null, stderr appended
// to the log file, the environment EmbeddedServerEnvironment. Writes the
// pid file, waits until it reports ready and answers `probe`, and writes
// one line to stderr saying where its socket, database and log are and how
// to stop it. Sets *started when it started it.
//   FAILED_PRECONDITION  a version mismatch (the message says how to stop
//                        it); flags LoadEmbeddedServerArgs refuses (its
//                        message), or that portleased refuses (the message
//                        quotes its error and names the config file or
//                        variable)
//   UNAVAILABLE / DEADLINE_EXCEEDED / INTERNAL  it did not start (the
//                        message names the log file)
absl::Status EnsureEmbeddedServer(const EmbeddedPaths& paths,
                                  const std::string& binary,
                                  const ServerProbe& probe,
                                  absl::Duration timeout, bool* started);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_LIB_EMBEDDED_SERVER_H_
