// What /proc says of one process: the fields of /proc/PID/stat that
// identify it, the uids of /proc/PID/status and its command line, for the
// client (owner metadata, lease-run's process watch) and the server (the
// portserver adapter) alike.
//
//   absl::StatusOr<ProcStat> self = ReadProcStat(getpid());
//   // self->start_time with the pid names this process until reboot.
//
// Stateless functions: thread-safe.
#ifndef PORTLEASE_COMMON_SYSTEM_PROC_STAT_H_
#define PORTLEASE_COMMON_SYSTEM_PROC_STAT_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace portlease {

// The fields of /proc/PID/stat that identify a process.
struct ProcStat {
  pid_t pid = 0;
  std::string comm;  // the command name, at most 15 characters
  char state = 0;    // field 3: R, S, D, Z, X, ...
  pid_t ppid = 0;
  // Clock ticks after boot when the process started (field 22): with the
  // pid, unique on the host until reboot.
  uint64_t start_time = 0;

  // Exited and not yet reaped (Z) or dead (X): it holds no socket any more.
  bool exited() const { return state == 'Z' || state == 'X' || state == 'x'; }
};

// Parses the content of /proc/PID/stat: "PID (COMM) STATE PPID ..." where
// COMM may hold spaces and parentheses (the last ')' ends it).
// INVALID_ARGUMENT naming the malformed part.
absl::StatusOr<ProcStat> ParseProcStat(absl::string_view text);

// The real and effective uid from the content of /proc/PID/status ("Uid:"
// line). INVALID_ARGUMENT when the line is missing or malformed.
struct ProcUids {
  uid_t real = 0;
  uid_t effective = 0;
};
absl::StatusOr<ProcUids> ParseProcUids(absl::string_view status);

// /proc/PID/cmdline's arguments joined by spaces (trailing NULs dropped).
std::string JoinCmdline(std::string cmdline);

// The file `name` ("stat", "status", "cmdline") of process `pid` under
// `proc_root`. NOT_FOUND when there is no such process; UNAVAILABLE when
// it exists but the file cannot be read (out of descriptors, say), which
// says nothing about the process.
absl::StatusOr<std::string> ReadProcFile(pid_t pid, absl::string_view name,
                                         absl::string_view proc_root = "/proc");

// ReadProcFile(pid, "stat") parsed; a malformed file is INVALID_ARGUMENT
// naming its path.
absl::StatusOr<ProcStat> ReadProcStat(pid_t pid,
                                      absl::string_view proc_root = "/proc");

}  // namespace portlease

#endif  // PORTLEASE_COMMON_SYSTEM_PROC_STAT_H_
