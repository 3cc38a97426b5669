// lease-run --compose: a docker compose project you did not write, run
// with leased ports.
//
//   lease-run --compose -- docker compose up
//   lease-run --compose-file a.yml --compose-file b.yml -- docker compose up
//   lease-run --compose-print            # the rewritten file on stdout
//
// The files (--compose-file, else what compose reads: COMPOSE_FILE, else
// compose.yaml ... plus its override) are merged and every ports entry is
// leased in one lease, ports named "<service>_<target>"
// (compose/compose_file.h). The command gets the lease's variables
// (<SERVICE>_<TARGET>_PORT, COMPOSE_PROJECT_NAME unique to the lease unless
// set) and COMPOSE_FILE naming the rewritten merged file, written next to
// the first file as ".portlease-compose.<lease-id-prefix>.<pid>.yml" and
// removed when the lease ends. Its first line records the owner's pid and
// start time: a later --compose run in that directory removes the files of
// owners that are gone (a lease-run killed with SIGKILL).
#ifndef PORTLEASE_CLIENT_LEASE_RUN_LEASE_RUN_COMPOSE_H_
#define PORTLEASE_CLIENT_LEASE_RUN_LEASE_RUN_COMPOSE_H_

#include <string>

#include "absl/status/status.h"
#include "cli_common/args.h"
#include "lease_run/lease_run.h"

namespace portlease {

// INVALID_ARGUMENT when --compose goes with --ports/--count/--profile,
// --listen-fds or a CTest mode, or --compose-print with a command.
absl::Status CheckComposeFlags(const LeaseRunOptions& options,
                               const SplitArgs& split);

// Removes the rewritten files in `dir` whose owner is gone; returns how
// many.
int RemoveStaleComposeFiles(const std::string& dir);

// OK when the rewritten file can be written in `dir` (the first compose
// file's directory, so that relative paths in it still resolve); else
// FAILED_PRECONDITION, one line saying what to do instead.
absl::Status CheckComposeDirWritable(const std::string& dir);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_LEASE_RUN_LEASE_RUN_COMPOSE_H_
