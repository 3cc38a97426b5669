// Watching another process by pid and start time, so that a reused pid is
// not mistaken for the process that was watched (lease-run --detach).
#ifndef PORTLEASE_CLIENT_LIB_PROCESS_WATCH_H_
#define PORTLEASE_CLIENT_LIB_PROCESS_WATCH_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace portlease {

// The fields of /proc/PID/stat that identify a process.
struct ProcessStat {
  pid_t pid = 0;
  std::string comm;  // the command name, at most 15 characters
  pid_t ppid = 0;
  // Clock ticks after boot when the process started (field 22): with the
  // pid, unique on the host until reboot.
  uint64_t start_time = 0;
};

// Parses the content of /proc/PID/stat (comm may contain spaces and
// parentheses). INVALID_ARGUMENT when malformed.
absl::StatusOr<ProcessStat> ParseProcStat(absl::string_view text);

// Reads /proc/PID/stat. NOT_FOUND when there is no such process.
absl::StatusOr<ProcessStat> ReadProcessStat(pid_t pid);

// The nearest ancestor of `pid` (walking ppid links, not `pid` itself, at
// most 64 steps) whose comm is `comm`. NOT_FOUND when there is none.
absl::StatusOr<ProcessStat> FindAncestor(pid_t pid, absl::string_view comm);

// True while the process `pid` exists and started at `start_time`, and is
// not a zombie.
bool IsSameProcess(pid_t pid, uint64_t start_time);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_LIB_PROCESS_WATCH_H_
