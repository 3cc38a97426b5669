#include "src/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace portlease {
namespace {

constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP};

sigset_t SupervisorSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kForwarded) sigaddset(&set, sig);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTTOU);
  return set;
}

bool OwnsTerminal() {
  return isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
}

}  // namespace

void BlockSupervisorSignals() {
  sigset_t set = SupervisorSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

absl::StatusOr<pid_t> SpawnChild(const std::vector<std::string>& argv,
                                 const Variables& vars) {
  if (argv.empty()) return absl::InvalidArgumentError("no command");
  std::vector<std::string> env_strings;
  std::set<std::string> overridden;
  for (const auto& [key, value] : vars) overridden.insert(key);
  for (char** e = environ; *e != nullptr; ++e) {
    const char* eq = std::strchr(*e, '=');
    const std::string key = eq ? std::string(*e, eq - *e) : std::string(*e);
    if (overridden.count(key) == 0) env_strings.emplace_back(*e);
  }
  for (const auto& [key, value] : vars) {
    env_strings.push_back(absl::StrCat(key, "=", value));
  }
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> c_argv;
  for (std::string& s : args) c_argv.push_back(s.data());
  c_argv.push_back(nullptr);
  const bool own_terminal = OwnsTerminal();

  int error_pipe[2];
  if (pipe2(error_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  const pid_t child = fork();
  if (child < 0) {
    const int err = errno;
    close(error_pipe[0]);
    close(error_pipe[1]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(err)));
  }
  if (child == 0) {
    // Only async-signal-safe calls from here on.
    setpgid(0, 0);
    if (own_terminal) tcsetpgrp(STDIN_FILENO, getpid());
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    for (int sig : kForwarded) sigaction(sig, &dfl, nullptr);
    sigaction(SIGCHLD, &dfl, nullptr);
    sigaction(SIGTTOU, &dfl, nullptr);
    sigaction(SIGPIPE, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execvpe(c_argv[0], c_argv.data(), envp.data());
    const int err = errno;
    [[maybe_unused]] ssize_t n = write(error_pipe[1], &err, sizeof(err));
    _exit(err == ENOENT ? 127 : 126);
  }
  setpgid(child, child);  // also here, so the group exists on return
  if (own_terminal) tcsetpgrp(STDIN_FILENO, child);
  close(error_pipe[1]);
  int err = 0;
  ssize_t n;
  do {
    n = read(error_pipe[0], &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  close(error_pipe[0]);
  if (n != static_cast<ssize_t>(sizeof(err))) return child;
  int status;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (own_terminal) tcsetpgrp(STDIN_FILENO, getpgrp());
  std::string message =
      absl::StrCat("cannot run ", argv[0], ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

int SuperviseChild(pid_t child, const std::function<bool()>& should_stop,
                   absl::Duration kill_grace) {
  const sigset_t set = SupervisorSignals();
  const bool restore_terminal = isatty(STDIN_FILENO) &&
                                tcgetpgrp(STDIN_FILENO) == child;
  bool terminating = false;
  bool killed = false;
  absl::Time kill_at = absl::InfiniteFuture();
  int status = 0;
  while (true) {
    const pid_t r = waitpid(child, &status, WNOHANG);
    if (r == child) break;
    if (r < 0 && errno != EINTR) break;
    if (!terminating && should_stop && should_stop()) {
      terminating = true;
      kill(-child, SIGTERM);
      kill_at = absl::Now() + kill_grace;
    }
    if (terminating && !killed && absl::Now() >= kill_at) {
      killed = true;
      kill(-child, SIGKILL);
    }
    struct timespec step = {0, 100 * 1000 * 1000};
    const int sig = sigtimedwait(&set, nullptr, &step);
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) kill(-child, sig);
  }
  if (restore_terminal) tcsetpgrp(STDIN_FILENO, getpgrp());
  return status;
}

int ExitCodeFromWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

}  // namespace portlease
