// lease-run's CTest modes, each a function RunLeaseRun dispatches to (see
// src/lease_run.h for the options and exit codes).
#ifndef PORTLEASE_CLIENT_SRC_LEASE_RUN_MODES_H_
#define PORTLEASE_CLIENT_SRC_LEASE_RUN_MODES_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "portlease/address.h"
#include "portlease/client.h"
#include "portlease/lease_env.h"
#include "src/lease_run.h"
#include "portlease/profile.h"
#include "portlease/scoped_lease.h"
#include "portlease/template.h"

namespace portlease {

// The variables env files of held leases add to the lease's own.
inline constexpr char kHolderPidVariable[] = "PORTLEASE_HOLDER_PID";
inline constexpr char kHolderStartVariable[] = "PORTLEASE_HOLDER_START_TIME";

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

// The server a mode acquires from: PORTLEASE_ADDR, the system socket or
// the embedded default server (see ResolveServerAddress), and a client for
// it whose calls retry an unreachable server for `connect_timeout`.
struct LeaseServer {
  ResolvedAddress where;
  std::shared_ptr<const Client> client;
};
absl::StatusOr<LeaseServer> ConnectLeaseServer(absl::Duration connect_timeout);

// lease-run's exit code when ConnectLeaseServer fails: 1 for a problem
// only the user can fix (FAILED_PRECONDITION: the embedded server runs
// another version, no portleased binary found), kExitUnavailable otherwise
// (also a system socket that refuses this user).
int ConnectErrorExitCode(const absl::Status& status);

// Acquires a self-renewing ScopedLease from `client` for a spec. When `loss`
// is not null, a lease lost later (expired, revoked, server unreachable for
// the hold grace) is reported to it, and so is a lease held again.
using LeaseAcquirer =
    std::function<absl::StatusOr<std::unique_ptr<ScopedLease>>(
        const AcquireSpec&)>;
LeaseAcquirer MakeLeaseAcquirer(std::shared_ptr<const Client> client,
                                std::shared_ptr<LeaseLossFlag> loss);

// --detach. Forks the holder before any gRPC use: call it first thing.
int RunDetached(const LeaseRunOptions& options, std::ostream& err);

// --release-env-file.
int RunReleaseEnvFile(const std::string& env_file, std::ostream& err);

// --ctest-resource-spec.
int RunWithResourceSpec(const LeaseRunOptions& options, std::ostream& err);

// The lease variables for `request` taken from `environment`, when it has
// PORTLEASE_LEASE_ID and every port variable of the request (as an outer
// lease-run sets them); nullopt otherwise. Derived profile variables are
// re-expanded from them. INVALID_ARGUMENT when a derived variable fails to
// expand.
absl::StatusOr<std::optional<Variables>> VariablesFromEnvironment(
    const PortRequest& request, const VariableLookup& environment);

// Names the one CTest fixture whose setup reuses an outer lease.
inline constexpr char kCtestReuseVariable[] = "PORTLEASE_CTEST_REUSE";

// Whether a --detach setup reuses the lease an outer lease-run put in the
// environment. When PORTLEASE_CTEST_REUSE is set it decides alone: it names
// the one fixture that reuses (options.ctest_fixture; "1"/"on"/"true"/"yes"
// when that is the only fixture in options.ctest_fixtures_file; "0"/"off":
// none). Otherwise --reuse-environment (REUSE_OUTER) decides.
// INVALID_ARGUMENT when "1" is ambiguous or the name is not a listed
// fixture.
absl::StatusOr<bool> ShouldReuseOuterLease(const LeaseRunOptions& options,
                                           const VariableLookup& environment);

// Working directory, for COMPOSE_PROJECT_NAME ("" when unknown).
std::string CurrentDirectoryOrEmpty();

// `path` made absolute against the working directory.
std::string AbsolutePath(const std::string& path);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_SRC_LEASE_RUN_MODES_H_
