#include "server/portserver/process_table.h"

#include <errno.h>
#include <sys/stat.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/system/files.h"

namespace portlease {
namespace {

absl::Status Malformed(absl::string_view what) {
  return absl::InternalError(absl::StrCat("malformed ", what));
}

// Why a file of /proc/PID (`dir`) could not be read: NOT_FOUND when the
// process is gone; else UNAVAILABLE, the server's own trouble (out of
// descriptors, say), which says nothing about the process.
absl::Status ReadFailure(const std::string& dir, pid_t pid,
                         const absl::Status& error) {
  struct stat st;
  if (absl::IsNotFound(error) ||
      (stat(dir.c_str(), &st) != 0 && errno == ENOENT)) {
    return absl::NotFoundError(absl::StrCat("no process ", pid));
  }
  return absl::UnavailableError(
      absl::StrCat("cannot read ", dir, ": ", error.message()));
}

}  // namespace

absl::Status ParseProcFiles(absl::string_view stat, absl::string_view status,
                            ProcessInfo* info) {
  // "pid (comm) state ppid ...": fields are counted from the last ')';
  // field 3 (state) follows it.
  const size_t paren = stat.rfind(')');
  if (paren == absl::string_view::npos) return Malformed("stat");
  std::vector<absl::string_view> fields =
      absl::StrSplit(stat.substr(paren + 1), ' ', absl::SkipWhitespace());
  constexpr size_t kStartIndex = 22 - 3;
  if (fields.size() <= kStartIndex ||
      !absl::SimpleAtoi(fields[kStartIndex], &info->start_time)) {
    return Malformed("stat (start time)");
  }
  info->exited = fields[0] == "Z" || fields[0] == "X" || fields[0] == "x";
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, "Uid:")) continue;
    std::vector<absl::string_view> uids =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipWhitespace());
    uint32_t real = 0;
    uint32_t effective = 0;
    if (uids.size() < 2 || !absl::SimpleAtoi(uids[0], &real) ||
        !absl::SimpleAtoi(uids[1], &effective)) {
      return Malformed("status (Uid)");
    }
    info->real_uid = real;
    info->effective_uid = effective;
    return absl::OkStatus();
  }
  return Malformed("status (no Uid line)");
}

ProcProcessTable::ProcProcessTable(std::string proc_root)
    : proc_root_(std::move(proc_root)) {}

absl::StatusOr<ProcessInfo> ProcProcessTable::Find(pid_t pid) {
  if (pid <= 0) return absl::NotFoundError(absl::StrCat("no process ", pid));
  const std::string dir = absl::StrCat(proc_root_, "/", pid, "/");
  absl::StatusOr<std::string> stat = ReadFile(dir + "stat");
  if (!stat.ok()) return ReadFailure(dir, pid, stat.status());
  absl::StatusOr<std::string> status = ReadFile(dir + "status");
  if (!status.ok()) return ReadFailure(dir, pid, status.status());
  ProcessInfo info;
  info.pid = pid;
  absl::Status parsed = ParseProcFiles(*stat, *status, &info);
  if (!parsed.ok()) {
    return absl::InternalError(
        absl::StrCat(dir, ": ", parsed.message()));
  }
  if (absl::StatusOr<std::string> cmdline = ReadFile(dir + "cmdline");
      cmdline.ok()) {
    while (!cmdline->empty() && cmdline->back() == '\0') cmdline->pop_back();
    for (char& c : *cmdline) {
      if (c == '\0') c = ' ';
    }
    info.command = *std::move(cmdline);
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
