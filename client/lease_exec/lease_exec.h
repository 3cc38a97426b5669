// lease-exec: run a command with the variables of a lease somebody else
// holds, as CTest fixtures (ctest/PortLease.cmake) do.
//
//   lease-exec --env-file build/portlease/m2.env -- ./redis_test
//   lease-exec --from-resource-group -- ./redis_test
//   lease-exec ./redis_test             # mode from the environment
//
// Modes, in order:
//   --env-file FILE        load FILE (KEY=value lines, as written by
//                          `lease-run --detach --env-file FILE`)
//   --from-resource-group  load the block CTest allotted to this test
//                          (portlease/ctest_resources.h), from the spec in
//                          --resource-spec or $PORTLEASE_RESOURCE_SPEC
//   neither                $PORTLEASE_ENV_FILE when set, else the resource
//                          group when CTEST_RESOURCE_GROUP_COUNT is set
// Discovery pass-through: when the command's arguments include
// --gtest_list_tests, or PORTLEASE_DISCOVERY is set to anything but "" or
// "0", the command runs unchanged, with no lease needed (gtest_discover_tests
// lists tests before any fixture has run).
//
// The command gets the loaded variables (overriding the environment) and
// PORTLEASE_ENV_FILE set to the absolute path of the file they came from.
// lease-exec then becomes the command (execvp): its exit status is the
// command's.
#ifndef PORTLEASE_CLIENT_LEASE_EXEC_LEASE_EXEC_H_
#define PORTLEASE_CLIENT_LEASE_EXEC_LEASE_EXEC_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "portlease/lease_env.h"
#include "portlease/template.h"

namespace portlease {

struct LeaseExecOptions {
  // --env-file, in order (several: the leases of several fixtures).
  std::vector<std::string> env_files;
  bool from_resource_group = false;
  // The resource spec written by lease-run; empty: $PORTLEASE_RESOURCE_SPEC.
  std::string resource_spec;
  std::vector<std::string> command;
  bool help = false;
};

// Parses the arguments after the program name: flags up to "--" or the
// first argument that is not a flag; the rest is the command (so
// `lease-exec ./t --gtest_filter=x` works as a test launcher).
// INVALID_ARGUMENT for unknown flags, both modes, or no command.
absl::StatusOr<LeaseExecOptions> ParseLeaseExecArgs(
    const std::vector<std::string>& args);

// The --help text.
const char* LeaseExecUsage();

// What to exec.
struct LeaseExecPlan {
  std::vector<std::string> argv;
  // Set in the command's environment (empty when passing through).
  Variables vars;
  // The command runs unchanged (discovery).
  bool pass_through = false;
};

// True for a discovery run (see above).
bool IsDiscoveryRun(const std::vector<std::string>& command,
                    const VariableLookup& environment);

// Decides what to run, reading env files but nothing else.
//   FAILED_PRECONDITION  no lease: the env file does not exist (the
//                        fixture's setup test has not run), no mode applies,
//                        or no resource group (message says what to do)
//   INVALID_ARGUMENT     a malformed env file or CTest variables
//   INTERNAL             an unreadable file
absl::StatusOr<LeaseExecPlan> PlanLeaseExec(const LeaseExecOptions& options,
                                            const VariableLookup& environment);

// Sets plan.vars in the process environment and execvp's plan.argv. Returns
// only on failure: 127 (not found) or 126, after a one-line message on `err`.
int ExecLeasePlan(const LeaseExecPlan& plan, std::ostream& err);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_LEASE_EXEC_LEASE_EXEC_H_
