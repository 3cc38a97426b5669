// What every lease-run mode does with its leases, written once.
//
// LeaseSession takes a mode from its options to published leases, one step
// each: the request (--ports/--count/--profile), the server, a lease
// (waiting up to --wait), its variables, the --render files and the env
// file. RunUnderLease runs the command while the leases are held.
//
//   LeaseSession session(options, err);
//   if (std::optional<Failure> f = session.MakeRequest()) {
//     return ReportFailure(*f, err);
//   }
//   ... session.Connect(loss) likewise ...
//   lease = session.Acquire(session.NewSpec());
//   session.Publish(**lease, options.env_file, {}, &vars);
//   return RunUnderLease(options.command, vars, ...);
#ifndef PORTLEASE_CLIENT_LEASE_RUN_LEASE_SESSION_H_
#define PORTLEASE_CLIENT_LEASE_RUN_LEASE_SESSION_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "portlease/address.h"
#include "portlease/client.h"
#include "portlease/lease_env.h"
#include "portlease/profile.h"
#include "portlease/scoped_lease.h"
#include "lease_run/lease_run.h"

namespace portlease {

// A step that failed: lease-run's exit code and its one-line message
// (without the "lease-run: " prefix).
struct Failure {
  int exit_code = 1;
  std::string message;
};

// Prints "lease-run: <message>" on `err`; returns the exit code.
int ReportFailure(const Failure& failure, std::ostream& err);

// What keep-alive threads report about a lost lease: each loss and each
// recovery is counted, so a supervisor polling now and then sees both even
// when they happened between two polls. Thread-safe.
class LeaseLossFlag {
 public:
  void Set(const absl::Status& status) {
    absl::MutexLock lock(&mu_);
    status_ = status;
    lost_.store(true);
    losses_.fetch_add(1);
  }
  void Restore() {
    lost_.store(false);
    restores_.fetch_add(1);
  }
  // Lost now.
  bool lost() const { return lost_.load(); }
  // Lost at some point (perhaps held again since).
  bool ever_lost() const { return losses_.load() > 0; }
  int losses() const { return losses_.load(); }
  int restores() const { return restores_.load(); }
  // The last loss.
  absl::Status status() const {
    absl::MutexLock lock(&mu_);
    return status_;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> lost_{false};
  std::atomic<int> losses_{0};
  std::atomic<int> restores_{0};
};

// One mode's way from its options to leases and their variables. The
// steps are called in order: MakeRequest, Connect, then per lease Acquire
// and Publish. Not thread-safe; a forked child may go on with its parent's
// session as long as the parent had not connected.
class LeaseSession {
 public:
  // `options` must outlive the session; progress lines go to `err`. Reads
  // the working directory (for COMPOSE_PROJECT_NAME) now.
  LeaseSession(const LeaseRunOptions& options, std::ostream& err);

  // The request of --ports/--count/--profile (MakePortRequest). Fails
  // with kExitUsage.
  std::optional<Failure> MakeRequest();
  const PortRequest& request() const { return *request_; }

  // Resolves the server (PORTLEASE_ADDR, the system socket or the embedded
  // default server, see ResolveServerAddress) and makes a client whose
  // calls retry an unreachable server for --connect-timeout. Fails with 1
  // for a problem only the user can fix (FAILED_PRECONDITION: the embedded
  // server runs another version, no portleased binary found), else
  // kExitUnavailable (also a system socket that refuses this user).
  // `loss`, when not null, hears of every lease acquired later that is
  // lost (expired, revoked, server unreachable for the hold grace) and of
  // it being held again.
  std::optional<Failure> Connect(std::shared_ptr<LeaseLossFlag> loss);
  // The prologue of the modes that run a command: fails with kExitUsage
  // when there is no command after --, then MakeRequest and Connect.
  std::optional<Failure> OpenForCommand(std::shared_ptr<LeaseLossFlag> loss);
  // After Connect.
  const std::shared_ptr<const Client>& client() const { return client_; }

  // A spec for the request, with a fresh request_id (AcquireSpec's retries
  // and the --wait retry are idempotent, two specs are two leases).
  AcquireSpec NewSpec() const;
  // A self-renewing lease for `spec`; when the pool is busy and --wait is
  // positive, one progress line on `err` and a wait of up to --wait.
  absl::StatusOr<std::unique_ptr<ScopedLease>> Acquire(const AcquireSpec& spec);
  // The failure of a failed Acquire (exit code and message by status).
  Failure AcquireFailure(const absl::Status& status) const;

  // Publishes `lease`: sets *vars to its variables (LeaseVariables with
  // the request's profile and the process environment), renders the
  // --render files with them, and writes them plus `env_file_extra` to
  // `env_file` unless it is empty. Fails with kExitUsage for a bad
  // derived variable or template, 1 for a file that cannot be written.
  std::optional<Failure> Publish(const ScopedLease& lease,
                                 const std::string& env_file,
                                 const Variables& env_file_extra,
                                 Variables* vars) const;
  // The render and env file steps of Publish, for variables that come from
  // elsewhere (an outer lease reused).
  std::optional<Failure> PublishVariables(
      const Variables& vars, const std::string& env_file,
      const Variables& env_file_extra) const;

 private:
  const LeaseRunOptions& options_;
  std::ostream& err_;
  const std::string checkout_dir_;
  std::optional<PortRequest> request_;
  ResolvedAddress where_;
  std::shared_ptr<const Client> client_;
  std::shared_ptr<LeaseLossFlag> loss_;
};

// Runs `command` with the process environment plus `vars` (SpawnChild)
// and supervises it (SuperviseChild: signals forwarded, SIGTERM then
// SIGKILL after `kill_grace` once `should_stop`, polled about every
// 100 ms, returns true). Returns the command's exit code (128 + signal
// when killed), kExitTempFail when `should_stop` ended it, or
// kExitNotFound / kExitCannotExecute with a line on `err` when it cannot
// be started. `pass_fds` go to the command as fds 3, 4, ... (SpawnChild)
// and are closed here once it is started, or failed to start.
int RunUnderLease(const std::vector<std::string>& command,
                  const Variables& vars, absl::Duration kill_grace,
                  const std::function<bool()>& should_stop, std::ostream& err,
                  const std::vector<int>& pass_fds = {});

// The working directory ("" when unknown).
std::string CurrentDirectoryOrEmpty();

// `path` made absolute against the working directory.
std::string AbsolutePath(const std::string& path);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_LEASE_RUN_LEASE_SESSION_H_
