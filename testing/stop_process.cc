#include "testing/stop_process.h"

#include <dirent.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "testing/poll_until.h"

namespace portlease::testing {
namespace {

// The state letter of a /proc/.../stat file: "tid (comm) S ...", the state
// follows the last ')' (comm may hold one). '\0' when unreadable.
char ThreadState(const std::string& stat_path) {
  std::ifstream in(stat_path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string stat = text.str();
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return '\0';
  return stat[paren + 2];
}

}  // namespace

bool AllThreadsStopped(pid_t pid) {
  const std::string tasks = absl::StrCat("/proc/", pid, "/task");
  DIR* dir = opendir(tasks.c_str());
  if (dir == nullptr) return false;
  bool stopped = true;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    if (ThreadState(absl::StrCat(tasks, "/", entry->d_name, "/stat")) != 'T') {
      stopped = false;
      break;
    }
  }
  closedir(dir);
  return stopped;
}

absl::Status StopProcess(pid_t pid) {
  if (kill(pid, SIGSTOP) != 0) {
    return absl::InternalError(
        absl::StrCat("SIGSTOP to pid ", pid, ": ", std::strerror(errno)));
  }
  if (!PollUntil([pid] { return AllThreadsStopped(pid); },
                 absl::Seconds(10))) {
    return absl::DeadlineExceededError(
        absl::StrCat("pid ", pid, " did not stop after SIGSTOP"));
  }
  return absl::OkStatus();
}

}  // namespace portlease::testing
