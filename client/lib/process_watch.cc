#include "lib/process_watch.h"

#include "absl/strings/str_cat.h"

namespace portlease {

absl::StatusOr<ProcStat> ReadLiveProcess(pid_t pid) {
  absl::StatusOr<ProcStat> stat = ReadProcStat(pid);
  if (stat.ok() && stat->exited()) {
    return absl::NotFoundError(absl::StrCat("process ", pid, " has exited"));
  }
  return stat;
}

absl::StatusOr<ProcStat> FindAncestor(pid_t pid, absl::string_view comm) {
  absl::StatusOr<ProcStat> current = ReadLiveProcess(pid);
  for (int step = 0; step < 64 && current.ok() && current->ppid > 0; ++step) {
    current = ReadLiveProcess(current->ppid);
    if (current.ok() && current->comm == comm) return current;
  }
  return absl::NotFoundError(
      absl::StrCat("no ancestor of process ", pid, " is named ", comm));
}

bool IsSameProcess(pid_t pid, uint64_t start_time) {
  absl::StatusOr<ProcStat> stat = ReadLiveProcess(pid);
  return stat.ok() && stat->start_time == start_time;
}

}  // namespace portlease
