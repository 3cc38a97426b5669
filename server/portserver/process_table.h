// ProcessTable: what the portserver adapter needs to know of a process, by
// pid: when it started (to tell a reused pid from the process that got a
// lease), whose it is, and whether it still runs. ProcProcessTable reads
// /proc; tests use a fake or a /proc-like directory of their own.
//
//   ProcProcessTable processes;  // "/proc"
//   absl::StatusOr<ProcessInfo> info = processes.Find(pid);
//   bool same = IsSameProcess(processes, pid, info->start_time);
//
// ProcProcessTable is stateless: thread-safe.
#ifndef PORTLEASE_SERVER_PORTSERVER_PROCESS_TABLE_H_
#define PORTLEASE_SERVER_PORTSERVER_PROCESS_TABLE_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace portlease {

struct ProcessInfo {
  pid_t pid = 0;
  // Clock ticks after boot when the process started (/proc/PID/stat field
  // 22): with the pid, unique on the host until reboot.
  uint64_t start_time = 0;
  // From /proc/PID/status "Uid:": real and effective.
  uid_t real_uid = 0;
  uid_t effective_uid = 0;
  // Exited and not yet reaped (state Z or X): it holds no socket any more.
  bool exited = false;
  // /proc/PID/cmdline, NULs as spaces; may be empty (kernel threads,
  // zombies, a process that hides it).
  std::string command;
};

class ProcessTable {
 public:
  virtual ~ProcessTable() = default;
  // NOT_FOUND when there is no process `pid`; INTERNAL when its files do
  // not parse; UNAVAILABLE when they cannot be read for another reason
  // (the server out of descriptors): the process may well run.
  virtual absl::StatusOr<ProcessInfo> Find(pid_t pid) = 0;
};

// Reads PROC_ROOT/PID/{stat,status,cmdline}.
class ProcProcessTable : public ProcessTable {
 public:
  explicit ProcProcessTable(std::string proc_root = "/proc");
  absl::StatusOr<ProcessInfo> Find(pid_t pid) override;

 private:
  const std::string proc_root_;
};

// Parses the content of /proc/PID/stat (comm may hold spaces and
// parentheses) and /proc/PID/status into `info` (all but pid and command).
// INTERNAL naming what is malformed.
absl::Status ParseProcFiles(absl::string_view stat, absl::string_view status,
                            ProcessInfo* info);

// True while process `pid` exists, started at `start_time` and has not
// exited. False when it is gone, exited, or is another process that got
// the pid since. A table that cannot say (any error but NOT_FOUND) counts
// as running: a lease is never ended on a doubt.
bool IsSameProcess(ProcessTable& processes, pid_t pid, uint64_t start_time);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_PORTSERVER_PROCESS_TABLE_H_
