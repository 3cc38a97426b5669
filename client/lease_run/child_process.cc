#include "lease_run/child_process.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/system/c_string_array.h"

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
                                 const Variables& vars,
                                 const std::vector<int>& pass_fds) {
  if (argv.empty()) return absl::InvalidArgumentError("no command");
  const int first_free = 3 + static_cast<int>(pass_fds.size());
  for (int fd : pass_fds) {
    if (fd < first_free) {
      return absl::InvalidArgumentError("a passed fd overlaps fds 3..");
    }
  }
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
  const CStringArray envp(std::move(env_strings));
  const CStringArray c_argv(argv);
  const bool own_terminal = OwnsTerminal();

  // posix_spawnp, not fork: glibc starts the child with CLONE_VM|CLONE_VFORK,
  // so no page tables of this (multi-threaded, gRPC-sized) process are
  // copied, and an exec failure comes back as the return value. The child
  // joins its own group, takes the terminal (with every signal blocked, so
  // no SIGTTOU), then gets default dispositions and an empty mask.
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_init(&actions);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : kForwarded) sigaddset(&defaults, sig);
  for (int sig : {SIGCHLD, SIGTTOU, SIGPIPE}) sigaddset(&defaults, sig);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                      POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &none);
  if (own_terminal) {
    posix_spawn_file_actions_addtcsetpgrp_np(&actions, STDIN_FILENO);
  }
  // dup2 clears close-on-exec on the copy; the originals close at exec.
  for (size_t i = 0; i < pass_fds.size(); ++i) {
    posix_spawn_file_actions_adddup2(&actions, pass_fds[i],
                                     3 + static_cast<int>(i));
  }
  pid_t child = -1;
  const int err = posix_spawnp(&child, c_argv[0], &actions, &attr,
                               c_argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err == 0) {
    if (own_terminal) tcsetpgrp(STDIN_FILENO, child);
    return child;
  }
  // The child may have taken the terminal before its exec failed.
  if (own_terminal) tcsetpgrp(STDIN_FILENO, getpgrp());
  std::string message =
      absl::StrCat("cannot run ", argv[0], ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES) return absl::PermissionDeniedError(message);
  if (err == ENOEXEC) {
    return absl::PermissionDeniedError(absl::StrCat(
        message, " (a script needs a #! line)"));
  }
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
    const pid_t r = waitpid(child, &status, WNOHANG | WUNTRACED);
    if (r == child && WIFSTOPPED(status)) {
      // A SIGSTOP someone sent the command is theirs to undo.
      if (WSTOPSIG(status) == SIGSTOP) continue;
      // Ctrl-Z (SIGTSTP, or SIGTTIN/SIGTTOU of a background read or write)
      // stopped the command: stop too, as a shell job does, and when the
      // shell continues us (fg, bg), continue the command, in the
      // foreground again if we are.
      const bool had_terminal = restore_terminal &&
                                tcgetpgrp(STDIN_FILENO) == child;
      if (had_terminal) tcsetpgrp(STDIN_FILENO, getpgrp());
      kill(getpid(), SIGSTOP);
      if (had_terminal && tcgetpgrp(STDIN_FILENO) == getpgrp()) {
        tcsetpgrp(STDIN_FILENO, child);
      }
      kill(-child, SIGCONT);
      continue;
    }
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
