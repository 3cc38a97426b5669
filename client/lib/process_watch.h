// Watching another process by pid and start time, so that a reused pid is
// not mistaken for the process that was watched (lease-run --detach).
// /proc itself is read by common/system/proc_stat.h.
#ifndef PORTLEASE_CLIENT_LIB_PROCESS_WATCH_H_
#define PORTLEASE_CLIENT_LIB_PROCESS_WATCH_H_

#include <sys/types.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/system/proc_stat.h"

namespace portlease {

// /proc/PID/stat of a process that runs: NOT_FOUND when there is no such
// process or it has exited (a zombie); UNAVAILABLE or INVALID_ARGUMENT
// when it cannot be read or parsed.
absl::StatusOr<ProcStat> ReadLiveProcess(pid_t pid);

// The nearest ancestor of `pid` (walking ppid links, not `pid` itself, at
// most 64 steps) whose comm is `comm`. NOT_FOUND when there is none.
absl::StatusOr<ProcStat> FindAncestor(pid_t pid, absl::string_view comm);

// True while the process `pid` exists and started at `start_time`, and is
// not a zombie.
bool IsSameProcess(pid_t pid, uint64_t start_time);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_LIB_PROCESS_WATCH_H_
