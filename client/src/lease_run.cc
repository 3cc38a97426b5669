// lease-run's logic: resolve, acquire, render, run, keep alive, release.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "portlease/address.h"
#include "portlease/client.h"
#include "portlease/lease_env.h"
#include "src/lease_run.h"
#include "portlease/profile.h"
#include "portlease/scoped_lease.h"
#include "src/acquire_flow.h"
#include "src/child_process.h"
#include "src/lease_run_modes.h"
#include "src/signal_watch.h"

namespace portlease {
namespace {

constexpr char kProgram[] = "lease-run";

// "leased redis=20000 worker=20001 (lease 1a2b3c4d)"; unnamed ports as
// bare numbers.
std::string LeasedLine(const ScopedLease& lease) {
  std::string line = "leased";
  for (const v1::PortAssignment& port : lease.lease().ports()) {
    if (port.name().empty()) {
      absl::StrAppend(&line, " ", port.port());
    } else {
      absl::StrAppend(&line, " ", port.name(), "=", port.port());
    }
  }
  absl::StrAppend(&line, " (lease ", lease.lease().lease_id_prefix(), ")");
  return line;
}

}  // namespace

absl::StatusOr<LeaseServer> ConnectLeaseServer(
    absl::Duration connect_timeout) {
  ResolveOptions resolve;
  resolve.connect_timeout = connect_timeout;
  absl::StatusOr<ResolvedAddress> where = ResolveServerAddress(resolve);
  if (!where.ok()) return where.status();
  LeaseServer server;
  ClientOptions client_options;
  client_options.connect_timeout = connect_timeout;
  server.client =
      std::make_shared<const Client>(where->address, client_options);
  server.where = *std::move(where);
  return server;
}

int ConnectErrorExitCode(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition
             ? 1
             : kExitUnavailable;
}

LeaseAcquirer MakeLeaseAcquirer(std::shared_ptr<const Client> client,
                                std::shared_ptr<LeaseLossFlag> loss) {
  return [client = std::move(client),
          loss = std::move(loss)](const AcquireSpec& spec) {
    ScopedLeaseOptions options;
    options.spec = spec;
    if (loss != nullptr) {
      options.on_lost = [loss](const absl::Status& status) {
        loss->Set(status);
      };
      options.on_restored = [loss] { loss->Restore(); };
    }
    return ScopedLease::Acquire(client, std::move(options));
  };
}

std::string CurrentDirectoryOrEmpty() {
  char buf[4096];
  if (getcwd(buf, sizeof(buf)) == nullptr) return "";
  return buf;
}

std::string AbsolutePath(const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  return absl::StrCat(CurrentDirectoryOrEmpty(), "/", path);
}

int RunLeaseRun(const LeaseRunOptions& options, std::ostream& err) {
  if (!options.release_env_file.empty()) {
    return RunReleaseEnvFile(options.release_env_file, err);
  }
  if (options.detach) return RunDetached(options, err);
  BlockSupervisorSignals();
  if (!options.ctest_resource_spec.empty()) {
    return RunWithResourceSpec(options, err);
  }
  // Until the command runs, SIGINT/SIGTERM/SIGHUP end lease-run: at once
  // while it looks for a server, cancelling the wait once it asks for ports.
  SignalWatch signals;
  auto fail = [&err](int code, absl::string_view message) {
    err << kProgram << ": " << message << std::endl;
    return code;
  };
  if (options.command.empty()) {
    return fail(kExitUsage, "missing command after --");
  }
  absl::StatusOr<PortRequest> request =
      MakePortRequest(options.ports, options.count, options.profile);
  if (!request.ok()) return fail(kExitUsage, request.status().message());

  absl::StatusOr<LeaseServer> server =
      ConnectLeaseServer(options.connect_timeout);
  if (!server.ok()) {
    return fail(ConnectErrorExitCode(server.status()),
                absl::StrCat("no server: ", server.status().message()));
  }
  auto loss = std::make_shared<LeaseLossFlag>();
  const LeaseAcquirer acquire = MakeLeaseAcquirer(server->client, loss);
  const AcquireSpec spec = SpecFromRequest(*request, options.ttl, options.udp);
  signals.OnSignal([client = server->client] { client->Cancel(); });
  absl::StatusOr<std::unique_ptr<ScopedLease>> lease =
      AcquireWithWait(spec, options.wait, err, kProgram, acquire);
  // Signalled while waiting: no lease survives, the exit says which signal.
  auto cancelled = [&]() -> std::optional<int> {
    const int sig = signals.signal();
    if (sig == 0) return std::nullopt;
    server->client->ClearCancellation();
    if (lease.ok()) {
      lease->reset();
    } else {
      EndCancelledAcquire(*server->client, spec);
    }
    return fail(128 + sig, CancelledMessage(sig));
  };
  if (std::optional<int> code = cancelled()) return *code;
  if (!lease.ok()) {
    return fail(AcquireErrorExitCode(lease.status(), options.wait),
                AcquireErrorMessage(lease.status(), server->where.Describe(),
                                    options.wait));
  }

  const VariableLookup environment = ProcessEnvironment();
  absl::StatusOr<Variables> vars = (*lease)->Environment(
      request->profile.has_value() ? &*request->profile : nullptr, environment,
      CurrentDirectoryOrEmpty());
  if (!vars.ok()) return fail(kExitUsage, vars.status().message());
  const VariableLookup lookup = ChainLookup(*vars, environment);
  for (const std::string& render : options.renders) {
    absl::Status rendered = RenderTemplateFile(render, lookup);
    if (!rendered.ok()) {
      return fail(kExitUsage,
                  absl::StrCat("--render: ", rendered.message()));
    }
  }
  if (!options.env_file.empty()) {
    absl::Status written =
        WriteVariablesFile(options.env_file, *vars, /*append=*/false);
    if (!written.ok()) return fail(1, written.message());
  }
  // The env file names this lease only: it goes when lease-run returns,
  // after the lease is released on the normal path.
  absl::Cleanup remove_env_file = [&options] {
    if (!options.env_file.empty()) std::remove(options.env_file.c_str());
  };

  // The child's PORTLEASE_ENV_FILE is this lease's, or none: one inherited
  // from an outer lease (lease-exec, a fixture) would name other ports.
  vars->emplace_back("PORTLEASE_ENV_FILE", options.env_file.empty()
                                               ? std::string()
                                               : AbsolutePath(options.env_file));
  // From here the signals go to the command (SuperviseChild).
  signals.Stop();
  if (std::optional<int> code = cancelled()) return *code;
  if (!options.quiet) err << kProgram << ": " << LeasedLine(**lease) << std::endl;
  absl::StatusOr<pid_t> child = SpawnChild(options.command, *vars);
  if (!child.ok()) {
    const int code = child.status().code() == absl::StatusCode::kNotFound
                         ? kExitNotFound
                         : kExitCannotExecute;
    return fail(code, child.status().message());
  }
  const bool term = options.on_lease_loss == LeaseRunOptions::OnLeaseLoss::kTerm;
  int losses_seen = 0;
  int restores_seen = 0;
  bool terminated = false;
  // Polled about every 100 ms: one line per loss and per recovery.
  auto lease_lost = [&] {
    const int losses = loss->losses();
    const int restores = loss->restores();
    if (losses > losses_seen) {
      losses_seen = losses;
      err << kProgram << ": " << loss->status().message()
          << (term ? "; terminating " : "; still running ")
          << options.command.front() << " (--on-lease-loss="
          << (term ? "term" : "warn") << ")" << std::endl;
      if (term) {
        terminated = true;
        return true;
      }
    }
    if (restores > restores_seen) {
      restores_seen = restores;
      if (!loss->lost()) {
        err << kProgram << ": lease " << (*lease)->lease().lease_id_prefix()
            << " held again at " << server->client->address() << std::endl;
      }
    }
    return false;
  };
  const int wait_status =
      SuperviseChild(*child, lease_lost, options.kill_grace);
  lease->reset();
  if (terminated) return kExitTempFail;
  return ExitCodeFromWaitStatus(wait_status);
}

}  // namespace portlease
