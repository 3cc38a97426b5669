// Running lease-run's command: a child in its own process group, with
// SIGINT/SIGTERM/SIGHUP forwarded to that group.
//
// Signal handling works by blocking the forwarded signals (and SIGCHLD) in
// every thread and collecting them with sigtimedwait, so call
// BlockSupervisorSignals() before any thread starts.
#ifndef PORTLEASE_CLIENT_LEASE_RUN_CHILD_PROCESS_H_
#define PORTLEASE_CLIENT_LEASE_RUN_CHILD_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "portlease/lease_env.h"

namespace portlease {

// Blocks SIGINT, SIGTERM, SIGHUP, SIGCHLD and SIGTTOU in the calling thread
// (threads created afterwards inherit the mask).
void BlockSupervisorSignals();

// Starts argv[0] (searched on PATH) with the process environment plus
// `vars` (which override), in a new process group, with default signal
// dispositions and an empty signal mask. If stdin is a terminal whose
// foreground group is ours, the child's group becomes the foreground.
// NOT_FOUND (exit 127) / PERMISSION_DENIED (exit 126) / INTERNAL when it
// cannot be executed; a file the kernel cannot execute (a script without a
// #! line) is PERMISSION_DENIED, not run through /bin/sh.
// The child gets pass_fds[i] as fd 3 + i, not close-on-exec; each must be
// at least 3 + pass_fds.size() (INVALID_ARGUMENT otherwise).
absl::StatusOr<pid_t> SpawnChild(const std::vector<std::string>& argv,
                                 const Variables& vars,
                                 const std::vector<int>& pass_fds = {});

// Waits for `child` to exit, forwarding SIGINT/SIGTERM/SIGHUP to its group.
// When the child stops (Ctrl-Z), stops too and, once continued, continues
// the child's group (handing it the terminal back when we have it).
// Polls `should_stop` about every 100 ms; once it returns true, sends
// SIGTERM to the group, and SIGKILL after `kill_grace`. Restores the
// terminal's foreground group. Returns the wait status.
int SuperviseChild(pid_t child, const std::function<bool()>& should_stop,
                   absl::Duration kill_grace);

// The shell's convention: the exit code, or 128 + signal number.
int ExitCodeFromWaitStatus(int wait_status);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_LEASE_RUN_CHILD_PROCESS_H_
