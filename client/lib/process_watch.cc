#include "lib/process_watch.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace portlease {

absl::StatusOr<ProcessStat> ParseProcStat(absl::string_view text) {
  // "PID (COMM) STATE PPID ..." where COMM may hold ") ": the last ')' ends
  // it.
  const size_t open = text.find('(');
  const size_t close = text.rfind(')');
  if (open == absl::string_view::npos || close == absl::string_view::npos ||
      close < open) {
    return absl::InvalidArgumentError("malformed /proc stat: no (comm)");
  }
  ProcessStat stat;
  if (!absl::SimpleAtoi(text.substr(0, open), &stat.pid)) {
    return absl::InvalidArgumentError("malformed /proc stat: pid");
  }
  stat.comm = std::string(text.substr(open + 1, close - open - 1));
  std::vector<absl::string_view> fields =
      absl::StrSplit(text.substr(close + 1), ' ', absl::SkipEmpty());
  // fields[0] is field 3 (state), so field N is fields[N - 3].
  if (fields.size() < 20 || !absl::SimpleAtoi(fields[1], &stat.ppid) ||
      !absl::SimpleAtoi(fields[19], &stat.start_time)) {
    return absl::InvalidArgumentError("malformed /proc stat: fields");
  }
  if (fields[0] == "Z" || fields[0] == "X") {
    return absl::NotFoundError(absl::StrCat("process ", stat.pid, " is dead"));
  }
  return stat;
}

absl::StatusOr<ProcessStat> ReadProcessStat(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  if (!in) return absl::NotFoundError(absl::StrCat("no process ", pid));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseProcStat(buffer.str());
}

absl::StatusOr<ProcessStat> FindAncestor(pid_t pid, absl::string_view comm) {
  absl::StatusOr<ProcessStat> current = ReadProcessStat(pid);
  for (int step = 0; step < 64 && current.ok() && current->ppid > 0; ++step) {
    current = ReadProcessStat(current->ppid);
    if (current.ok() && current->comm == comm) return current;
  }
  return absl::NotFoundError(
      absl::StrCat("no ancestor of process ", pid, " is named ", comm));
}

bool IsSameProcess(pid_t pid, uint64_t start_time) {
  absl::StatusOr<ProcessStat> stat = ReadProcessStat(pid);
  return stat.ok() && stat->start_time == start_time;
}

}  // namespace portlease
