// lease-run: run a command with leased ports in its environment.
//
//   lease-run --ports redis,worker -- docker compose up
//
// Two more modes serve CTest (ctest/PortLease.cmake):
//   lease-run --profile P --env-file F --detach --watch-ctest
//       acquires, writes F and returns, leaving a detached holder process
//       that keeps the lease until the watched ctest exits, until
//       `lease-run --release-env-file F`, or for at most --max-hold;
//   lease-run --ctest-resource-spec FILE --blocks N --profile P -- ctest ...
//       leases N blocks and writes a CTest resource spec for them
//       (portlease/ctest_resources.h).
//
// The binary's main() is ParseLeaseRunArgs + RunLeaseRun.
#ifndef PORTLEASE_CLIENT_LEASE_RUN_LEASE_RUN_H_
#define PORTLEASE_CLIENT_LEASE_RUN_LEASE_RUN_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
// lease-run's own exit codes (kExitUsage, kExitUnavailable, ...).
#include "common/conventions/exit_codes.h"

namespace portlease {

struct LeaseRunOptions {
  // Exactly one of ports / count / profile (see MakePortRequest).
  std::string ports;  // "redis,worker"
  uint32_t count = 0;
  std::string profile;
  // "TEMPLATE:OUTPUT" files to render before the command starts.
  std::vector<std::string> renders;
  // Also write the variables here, KEY=value per line.
  std::string env_file;
  // Queue this long when the pool is busy; zero fails at once.
  absl::Duration wait = absl::ZeroDuration();
  // Lease ttl; zero means the server's default. Renewed every ttl/3.
  absl::Duration ttl = absl::ZeroDuration();
  bool udp = false;
  // After the lease is lost, how long the command has between SIGTERM and
  // SIGKILL.
  absl::Duration kill_grace = absl::Seconds(10);
  // How long calls keep retrying an unreachable server (--connect-timeout,
  // else PORTLEASE_CONNECT_TIMEOUT).
  absl::Duration connect_timeout = absl::Seconds(10);
  // What a lease lost while the command runs does (--on-lease-loss): always
  // one line on stderr; kTerm also SIGTERMs the command's process group
  // and exits 75 once it has ended; kWarn lets it run (and exits with its
  // status).
  enum class OnLeaseLoss { kTerm, kWarn };
  OnLeaseLoss on_lease_loss = OnLeaseLoss::kTerm;
  // --listen-fds: bind (and listen on) every leased port on listen_host
  // and pass the sockets to the command as fds 3, 4, ... with LISTEN_FDS,
  // LISTEN_PID and LISTEN_FDNAMES (sd_listen_fds(3); see listen_fds.h).
  bool listen_fds = false;
  std::string listen_host = "127.0.0.1";  // --listen-host, a literal address
  // --compose, --compose-file FILE (repeatable), --compose-print: lease
  // every published port of a docker compose project and run the command
  // with COMPOSE_FILE naming a rewritten copy (lease_run_compose.h).
  bool compose = false;
  std::vector<std::string> compose_files;  // none: compose's defaults
  bool compose_print = false;  // print the rewritten file, run nothing
  // The command and its arguments (none with detach / release_env_file).
  std::vector<std::string> command;

  // --detach: no command; hold the lease in a detached process and write
  // its variables, plus PORTLEASE_HOLDER_PID and PORTLEASE_HOLDER_START_TIME,
  // to env_file (required). Returns once env_file is written.
  bool detach = false;
  // The holder releases when this process is gone: the nearest ancestor
  // named "ctest" (watch_ctest; the parent when there is none), or
  // watch_pid (whose start time must be watch_start_time when nonzero).
  bool watch_ctest = false;
  int watch_pid = 0;
  uint64_t watch_start_time = 0;
  // The holder releases after this long in any case.
  absl::Duration max_hold = absl::Hours(2);
  // With detach: when the environment already has PORTLEASE_LEASE_ID and
  // every port variable of the request, write those to env_file and hold
  // nothing.
  bool reuse_environment = false;
  // With detach: the CTest fixture this setup is for, and the file listing
  // every fixture of the project. The setup reuses the outer lease also
  // when PORTLEASE_CTEST_REUSE names this fixture (or is "1" and it is the
  // only one); see ShouldReuseOuterLease.
  std::string ctest_fixture;
  std::string ctest_fixtures_file;
  // --release-env-file: end the holder recorded in this file (it releases
  // the lease) and remove the file. No command.
  std::string release_env_file;
  // --ctest-resource-spec FILE --blocks N: lease N blocks, write FILE and
  // one env file per block; the command gets PORTLEASE_RESOURCE_SPEC=FILE.
  std::string ctest_resource_spec;
  uint32_t blocks = 0;
  // --help was given: print LeaseRunUsage() and exit 0.
  bool help = false;
  bool version = false;  // --version
  // --quiet: no "leased ..." line on stderr when the command starts.
  bool quiet = false;
};

// Parses the arguments after the program name. INVALID_ARGUMENT with a
// one-line message (unknown flag, bad duration or count, missing command
// after "--", ...).
absl::StatusOr<LeaseRunOptions> ParseLeaseRunArgs(
    const std::vector<std::string>& args);

// The --help text.
const char* LeaseRunUsage();

// Runs: resolves the server (portlease/address.h), acquires, renders,
// starts the command, keeps the lease alive until it exits, releases.
// Returns the process exit code: the command's (128 + signal when killed),
// or one of kExit* with a one-line "lease-run: ..." message on `err`.
// Blocks SIGINT/SIGTERM/SIGHUP/SIGCHLD in the calling thread for good:
// call it from main() before starting threads.
int RunLeaseRun(const LeaseRunOptions& options, std::ostream& err);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_LEASE_RUN_LEASE_RUN_H_
