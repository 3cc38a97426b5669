// portleased: the port lease server. Wiring only: flags -> config ->
// daemon (store, prober, manager, server) -> wait for SIGTERM/SIGINT or
// --idle-exit -> exit code.
//
// Exit codes: 0 after a signalled shutdown, 2 for usage errors (bad flags,
// a pool that does not fit), 1 for runtime errors (store, bind, lock).
// The flags are in daemon_flags.cc, --help in daemon_help.cc.
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/daemon/args.h"
#include "server/daemon/daemon.h"
#include "server/daemon/daemon_config.h"
#include "server/daemon/daemon_help.h"
#include "server/daemon/fds.h"
#include "server/daemon/idle.h"

namespace portlease {
namespace {

constexpr int kExitUsage = 2;

int Fail(int exit_code, absl::string_view message) {
  std::fprintf(stderr, "portleased: %.*s\n", static_cast<int>(message.size()),
               message.data());
  return exit_code;
}

int Fail(const absl::Status& status) {
  return Fail(DaemonExitCode(status), status.message());
}

int Run(int argc, char** argv) {
  if (IsHelpRequest(argc, argv)) {
    PrintDaemonHelp();
    return 0;
  }
  InstallDaemonUsageConfig();
  absl::StatusOr<std::vector<std::string>> args =
      PrepareArgs(std::vector<std::string>(argv, argv + argc), {"listen", "portserver_listen"});
  if (!args.ok()) return Fail(kExitUsage, args.status().message());
  std::vector<char*> arg_pointers;
  for (std::string& arg : *args) arg_pointers.push_back(arg.data());
  absl::ParseCommandLine(static_cast<int>(arg_pointers.size()),
                         arg_pointers.data());

  // Descriptors: the soft limit up to the hard one, which
  // --max-connections must fit.
  const FdLimit fd_limit = RaiseFdLimit();
  absl::StatusOr<DaemonConfig> config =
      DaemonConfigFromFlags(DaemonHost{"/proc", fd_limit, ThisHostName()});
  if (!config.ok()) return Fail(config.status());
  const absl::Duration idle_exit = config->idle_exit;

  // From here on, no thread may take SIGTERM/SIGINT: Run waits for them.
  const sigset_t stop_signals = BlockStopSignals();
  absl::StatusOr<std::unique_ptr<Daemon>> daemon =
      StartDaemon(*std::move(config));
  if (!daemon.ok()) return Fail(daemon.status());
  (*daemon)->AnnounceReady();
  (*daemon)->Stop(WaitForStop(stop_signals, (*daemon)->idle(), idle_exit));
  return 0;
}

}  // namespace
}  // namespace portlease

int main(int argc, char** argv) { return portlease::Run(argc, argv); }
