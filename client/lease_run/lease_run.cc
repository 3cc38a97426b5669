// lease-run's logic: RunLeaseRun picks the mode; the default one resolves,
// acquires, renders, runs the command, keeps the lease alive until it
// exits and releases.
#include <cstdio>
#include <memory>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "portlease/scoped_lease.h"
#include "cli_common/acquire_flow.h"
#include "lease_run/child_process.h"
#include "lease_run/lease_run.h"
#include "lease_run/lease_run_modes.h"
#include "lease_run/lease_session.h"
#include "lease_run/listen_fds.h"
#include "cli_common/signal_watch.h"

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

// --on-lease-loss while the command runs, polled about every 100 ms: one
// line per loss and per recovery; true (stop the command) on a loss with
// kTerm.
class LossWatch {
 public:
  LossWatch(const LeaseRunOptions& options, const LeaseLossFlag& loss,
            const ScopedLease& lease, const Client& client, std::ostream& err)
      : options_(options), loss_(loss), lease_(lease), client_(client),
        err_(err) {}

  bool operator()() {
    const bool term =
        options_.on_lease_loss == LeaseRunOptions::OnLeaseLoss::kTerm;
    const int losses = loss_.losses();
    const int restores = loss_.restores();
    if (losses > losses_seen_) {
      losses_seen_ = losses;
      err_ << kProgram << ": " << loss_.status().message()
           << (term ? "; terminating " : "; still running ")
           << options_.command.front() << " (--on-lease-loss="
           << (term ? "term" : "warn") << ")" << std::endl;
      if (term) return true;
    }
    if (restores > restores_seen_) {
      restores_seen_ = restores;
      if (!loss_.lost()) {
        err_ << kProgram << ": lease " << lease_.lease().lease_id_prefix()
             << " held again at " << client_.address() << std::endl;
      }
    }
    return false;
  }

 private:
  const LeaseRunOptions& options_;
  const LeaseLossFlag& loss_;
  const ScopedLease& lease_;
  const Client& client_;
  std::ostream& err_;
  int losses_seen_ = 0;
  int restores_seen_ = 0;
};

// After the command: releases the lease, and says so in one line when
// that failed for a reason not reported already (a loss has been).
void ReleaseAndReport(ScopedLease& lease, const LeaseLossFlag& loss,
                      std::ostream& err) {
  const absl::Status released = lease.Release();
  if (released.ok() || loss.lost()) return;
  err << kProgram << ": lease " << lease.lease().lease_id_prefix()
      << " not released: " << released.message();
  if (released.code() == absl::StatusCode::kUnavailable ||
      released.code() == absl::StatusCode::kDeadlineExceeded) {
    err << "; the server ends it one hold grace after it is back";
  }
  err << std::endl;
}

}  // namespace

int RunCommand(const LeaseRunOptions& options, std::ostream& err,
               const BeforeCommand& before) {
  // Until the command runs, SIGINT/SIGTERM/SIGHUP end lease-run: at once
  // while it looks for a server, cancelling the wait once it asks for ports.
  SignalWatch signals;
  LeaseSession session(options, err);
  auto loss = std::make_shared<LeaseLossFlag>();
  if (std::optional<Failure> failed = session.OpenForCommand(loss)) {
    return ReportFailure(*failed, err);
  }
  const AcquireSpec spec = session.NewSpec();
  signals.OnSignal([client = session.client()] { client->Cancel(); });
  absl::StatusOr<std::unique_ptr<ScopedLease>> lease = session.Acquire(spec);
  // Signalled while waiting: no lease survives, the exit says which signal.
  auto cancelled = [&]() -> std::optional<int> {
    const int sig = signals.signal();
    if (sig == 0) return std::nullopt;
    session.client()->ClearCancellation();
    if (lease.ok()) {
      lease->reset();
    } else {
      EndCancelledAcquire(*session.client(), spec);
    }
    return ReportFailure({128 + sig, CancelledMessage(sig)}, err);
  };
  if (std::optional<int> code = cancelled()) return *code;
  if (!lease.ok()) {
    return ReportFailure(session.AcquireFailure(lease.status()), err);
  }

  Variables vars;
  if (std::optional<Failure> failed =
          session.Publish(**lease, options.env_file, {}, &vars)) {
    return ReportFailure(*failed, err);
  }
  // The env file names this lease only: it goes when lease-run returns,
  // after the lease is released on the normal path.
  absl::Cleanup remove_env_file = [&options] {
    if (!options.env_file.empty()) std::remove(options.env_file.c_str());
  };
  // The child's PORTLEASE_ENV_FILE is this lease's, or none: one inherited
  // from an outer lease (lease-exec, a fixture) would name other ports.
  vars.emplace_back("PORTLEASE_ENV_FILE", AbsolutePath(options.env_file));
  if (before) {
    if (std::optional<int> code = before(**lease, &vars)) {
      lease->reset();
      return *code;
    }
  }
  // From here the signals go to the command (SuperviseChild).
  signals.Stop();
  if (std::optional<int> code = cancelled()) return *code;
  std::vector<std::string> command = options.command;
  std::vector<int> pass_fds;
  if (options.listen_fds) {
    if (std::optional<Failure> failed = PrepareListenFds(
            options, **lease, &vars, &command, &pass_fds)) {
      return ReportFailure(*failed, err);
    }
  }
  if (!options.quiet) {
    err << kProgram << ": " << LeasedLine(**lease) << std::endl;
  }
  const int code = RunUnderLease(
      command, vars, options.kill_grace,
      LossWatch(options, *loss, **lease, *session.client(), err), err,
      pass_fds);
  ReleaseAndReport(**lease, *loss, err);
  lease->reset();
  return code;
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
  if (options.compose) return RunCompose(options, err);
  return RunCommand(options, err);
}

}  // namespace portlease
