#include "tests/server/daemon_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "tests/support/test_ports.h"
#include "common/system/c_string_array.h"

extern char** environ;

namespace portlease {

absl::StatusOr<DaemonProcess> DaemonProcess::Start(
    const std::string& binary, const std::vector<std::string>& args,
    const std::string& stderr_path, absl::Duration timeout) {
  timeout = testing::Scaled(timeout);
  int ready_pipe[2];
  if (pipe2(ready_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError("pipe2 failed");
  }
  std::vector<std::string> argv_strings = {binary};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  argv_strings.push_back("--ready_fd=3");
  const CStringArray argv(std::move(argv_strings));

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, ready_pipe[1], 3);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, binary.c_str(), &actions, nullptr,
                                  argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(ready_pipe[1]);
  if (spawned != 0) {
    close(ready_pipe[0]);
    return absl::InternalError(absl::StrCat("cannot run ", binary));
  }
  DaemonProcess daemon(pid, stderr_path);

  // Read the ready line, or EOF when the child exits without one.
  std::string line;
  const absl::Time end = absl::Now() + timeout;
  bool eof = false;
  while (!absl::StrContains(line, '\n') && !eof) {
    const absl::Duration left = end - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    pollfd fd = {ready_pipe[0], POLLIN, 0};
    if (poll(&fd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <=
        0) {
      continue;
    }
    char buffer[512];
    const ssize_t n = read(ready_pipe[0], buffer, sizeof(buffer));
    if (n <= 0) {
      eof = true;
    } else {
      line.append(buffer, static_cast<size_t>(n));
    }
  }
  close(ready_pipe[0]);
  if (absl::StrContains(line, '\n')) {
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&text, "ready ")) {
      return absl::InternalError(absl::StrCat("bad ready line: ", line));
    }
    daemon.addresses_ = absl::StrSplit(text, ' ', absl::SkipEmpty());
    return daemon;
  }
  if (eof) return daemon;  // exited (or closed fd 3 without a line)
  daemon.Stop(SIGKILL);
  return absl::DeadlineExceededError(
      absl::StrCat("portleased not ready after ", absl::FormatDuration(timeout),
                   "; stderr: ", daemon.Stderr()));
}

DaemonProcess::DaemonProcess(DaemonProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      stderr_path_(std::move(other.stderr_path_)),
      addresses_(std::move(other.addresses_)) {}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) Stop(SIGKILL);
}

std::optional<int> DaemonProcess::Stop(int signal, absl::Duration timeout) {
  if (pid_ <= 0) return std::nullopt;
  kill(pid_, signal);
  return Wait(timeout);
}

std::optional<int> DaemonProcess::Wait(absl::Duration timeout) {
  if (pid_ <= 0) return std::nullopt;
  const absl::Time end = absl::Now() + testing::Scaled(timeout);
  while (true) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      return status;
    }
    if (done < 0) {
      pid_ = -1;
      return std::nullopt;
    }
    if (absl::Now() >= end) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return std::nullopt;
}

std::string DaemonProcess::Stderr() const {
  std::ifstream in(stderr_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace portlease
