// lease-run's CTest modes, each a function RunLeaseRun dispatches to (see
// lease_run.h for the options and exit codes, lease_session.h for
// the steps they share).
#ifndef PORTLEASE_CLIENT_LEASE_RUN_LEASE_RUN_MODES_H_
#define PORTLEASE_CLIENT_LEASE_RUN_LEASE_RUN_MODES_H_

#include <functional>
#include <optional>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "portlease/lease_env.h"
#include "portlease/scoped_lease.h"
#include "portlease/template.h"
#include "lease_run/lease_run.h"

namespace portlease {

// --detach. Forks the holder before any gRPC use: call it first thing.
int RunDetached(const LeaseRunOptions& options, std::ostream& err);

// --release-env-file.
int RunReleaseEnvFile(const std::string& env_file, std::ostream& err);

// --ctest-resource-spec.
int RunWithResourceSpec(const LeaseRunOptions& options, std::ostream& err);

// Called by RunCommand once the lease is published, before the command
// starts: may add to `vars`; an exit code ends RunCommand there (the lease
// released), after the hook printed what it had to.
using BeforeCommand = std::function<std::optional<int>(
    const ScopedLease& lease, Variables* vars)>;

// The default mode: one lease, the command run under it.
int RunCommand(const LeaseRunOptions& options, std::ostream& err,
               const BeforeCommand& before = nullptr);

// --compose (lease_run_compose.cc).
int RunCompose(const LeaseRunOptions& options, std::ostream& err);

// The variables env files of held leases (--detach) add to the lease's
// own.
inline constexpr char kHolderPidVariable[] = "PORTLEASE_HOLDER_PID";
inline constexpr char kHolderStartVariable[] = "PORTLEASE_HOLDER_START_TIME";

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

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_LEASE_RUN_LEASE_RUN_MODES_H_
