#include "server/portserver/process_table.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/system/proc_stat.h"

namespace portlease {

absl::Status ParseProcFiles(absl::string_view stat, absl::string_view status,
                            ProcessInfo* info) {
  absl::StatusOr<ProcStat> parsed = ParseProcStat(stat);
  if (!parsed.ok()) return absl::InternalError(parsed.status().message());
  absl::StatusOr<ProcUids> uids = ParseProcUids(status);
  if (!uids.ok()) return absl::InternalError(uids.status().message());
  info->start_time = parsed->start_time;
  info->exited = parsed->exited();
  info->real_uid = uids->real;
  info->effective_uid = uids->effective;
  return absl::OkStatus();
}

ProcProcessTable::ProcProcessTable(std::string proc_root)
    : proc_root_(std::move(proc_root)) {}

absl::StatusOr<ProcessInfo> ProcProcessTable::Find(pid_t pid) {
  absl::StatusOr<std::string> stat = ReadProcFile(pid, "stat", proc_root_);
  if (!stat.ok()) return stat.status();
  absl::StatusOr<std::string> status = ReadProcFile(pid, "status", proc_root_);
  if (!status.ok()) return status.status();
  ProcessInfo info;
  info.pid = pid;
  absl::Status parsed = ParseProcFiles(*stat, *status, &info);
  if (!parsed.ok()) {
    return absl::InternalError(
        absl::StrCat(proc_root_, "/", pid, ": ", parsed.message()));
  }
  if (absl::StatusOr<std::string> cmdline =
          ReadProcFile(pid, "cmdline", proc_root_);
      cmdline.ok()) {
    info.command = JoinCmdline(*std::move(cmdline));
  }
  return info;
}

bool IsSameProcess(ProcessTable& processes, pid_t pid, uint64_t start_time) {
  absl::StatusOr<ProcessInfo> info = processes.Find(pid);
  if (absl::IsNotFound(info.status())) return false;
  if (!info.ok()) return true;  // cannot tell: keep the lease
  return info->start_time == start_time && !info->exited;
}

}  // namespace portlease
