// StopProcess: SIGSTOP a process and wait until it has taken effect.
//
// kill(2) returns before a stop is complete: the kernel wakes one thread
// of the process, and only when that thread runs does it stop the others.
// On a loaded machine the other threads go on answering requests for
// milliseconds. A test that stands in a frozen machine with SIGSTOP and
// then expects no answer must wait for every thread to be stopped.
//
//   ASSERT_TRUE(testing::StopProcess(server_pid).ok());
//   ... nothing the process would do happens now ...
//   kill(server_pid, SIGCONT);
#ifndef PORTLEASE_TESTING_STOP_PROCESS_H_
#define PORTLEASE_TESTING_STOP_PROCESS_H_

#include <sys/types.h>

#include "absl/status/status.h"

namespace portlease::testing {

// True when every thread of `pid` is in the stopped state ('T' in
// /proc/PID/task/TID/stat); false when one is not or `pid` is gone.
bool AllThreadsStopped(pid_t pid);

// Sends SIGSTOP to `pid` and polls (PollUntil, 10 s times the suite's
// time factor) until AllThreadsStopped. An error names the pid when the
// signal cannot be sent or the stop does not complete.
absl::Status StopProcess(pid_t pid);

}  // namespace portlease::testing

#endif  // PORTLEASE_TESTING_STOP_PROCESS_H_
