#include "common/system/proc_stat.h"

#include <errno.h>
#include <sys/stat.h>

#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/system/files.h"

namespace portlease {
namespace {

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed /proc ", what));
}

}  // namespace

absl::StatusOr<ProcStat> ParseProcStat(absl::string_view text) {
  const size_t open = text.find('(');
  const size_t close = text.rfind(')');
  if (open == absl::string_view::npos || close == absl::string_view::npos ||
      close < open) {
    return Malformed("stat: no (comm)");
  }
  ProcStat stat;
  if (!absl::SimpleAtoi(text.substr(0, open), &stat.pid)) {
    return Malformed("stat: pid");
  }
  stat.comm = std::string(text.substr(open + 1, close - open - 1));
  std::vector<absl::string_view> fields =
      absl::StrSplit(text.substr(close + 1), absl::ByAnyChar(" \n"),
                     absl::SkipEmpty());
  // fields[0] is field 3 (state), so field N is fields[N - 3].
  constexpr size_t kPpid = 4 - 3;
  constexpr size_t kStartTime = 22 - 3;
  if (fields.size() <= kStartTime || fields[0].size() != 1 ||
      !absl::SimpleAtoi(fields[kPpid], &stat.ppid) ||
      !absl::SimpleAtoi(fields[kStartTime], &stat.start_time)) {
    return Malformed("stat: fields");
  }
  stat.state = fields[0][0];
  return stat;
}

absl::StatusOr<ProcUids> ParseProcUids(absl::string_view status) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, "Uid:")) continue;
    std::vector<absl::string_view> uids =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipWhitespace());
    uint32_t real = 0;
    uint32_t effective = 0;
    if (uids.size() < 2 || !absl::SimpleAtoi(uids[0], &real) ||
        !absl::SimpleAtoi(uids[1], &effective)) {
      return Malformed("status: Uid");
    }
    return ProcUids{.real = real, .effective = effective};
  }
  return Malformed("status: no Uid line");
}

std::string JoinCmdline(std::string cmdline) {
  while (!cmdline.empty() && cmdline.back() == '\0') cmdline.pop_back();
  for (char& c : cmdline) {
    if (c == '\0') c = ' ';
  }
  return cmdline;
}

absl::StatusOr<std::string> ReadProcFile(pid_t pid, absl::string_view name,
                                         absl::string_view proc_root) {
  const std::string dir = absl::StrCat(proc_root, "/", pid);
  if (pid <= 0) return absl::NotFoundError(absl::StrCat("no process ", pid));
  absl::StatusOr<std::string> content =
      ReadFile(absl::StrCat(dir, "/", name));
  if (content.ok()) return content;
  struct stat st;
  if (absl::IsNotFound(content.status()) ||
      (stat(dir.c_str(), &st) != 0 && errno == ENOENT)) {
    return absl::NotFoundError(absl::StrCat("no process ", pid));
  }
  return absl::UnavailableError(content.status().message());
}

absl::StatusOr<ProcStat> ReadProcStat(pid_t pid, absl::string_view proc_root) {
  absl::StatusOr<std::string> text = ReadProcFile(pid, "stat", proc_root);
  if (!text.ok()) return text.status();
  absl::StatusOr<ProcStat> stat = ParseProcStat(*text);
  if (!stat.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        proc_root, "/", pid, "/stat: ", stat.status().message()));
  }
  return stat;
}

}  // namespace portlease
