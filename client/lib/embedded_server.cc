#include "lib/embedded_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/system/c_string_array.h"
#include "common/system/errno_status.h"
#include "common/system/files.h"
#include "portlease/client.h"
#include "portlease/lease_env.h"
#include "lib/process_watch.h"

extern char** environ;

namespace portlease {
namespace {

// The server's end of the readiness pipe, in the server process.
constexpr int kReadyFd = 3;
constexpr absl::Duration kPollStep = absl::Milliseconds(50);

bool IsExecutable(const std::string& path) {
  struct stat st;
  return !path.empty() && stat(path.c_str(), &st) == 0 &&
         S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

// Writes the decimal `value` and '\n' to `fd`; async-signal-safe.
void WriteNumber(int fd, long value) {
  char buf[32];
  int i = sizeof(buf);
  buf[--i] = '\n';
  do {
    buf[--i] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0 && i > 0);
  [[maybe_unused]] ssize_t n = write(fd, buf + i, sizeof(buf) - i);
}

// Reads from `fd` until a line starting with "ready" arrives, EOF, or
// `deadline`. Collects the first line ("<pid>") into *pid.
absl::Status AwaitReady(int fd, absl::Time deadline, long* pid,
                        const std::string& log_file) {
  std::string data;
  while (true) {
    const size_t newline = data.find('\n');
    if (newline != std::string::npos) {
      std::string line = data.substr(0, newline);
      data.erase(0, newline + 1);
      if (line.rfind("ready", 0) == 0) return absl::OkStatus();
      if (*pid == 0) *pid = std::strtol(line.c_str(), nullptr, 10);
      continue;
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "portleased did not become ready in time; see ", log_file));
    }
    struct pollfd pfd = {fd, POLLIN, 0};
    const int r = poll(&pfd, 1,
                       static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (r < 0 && errno != EINTR) return ErrnoStatus(errno, "poll");
    if (r <= 0) continue;
    char buf[256];
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::UnavailableError(absl::StrCat(
          "portleased exited during startup; see ", log_file));
    }
    data.append(buf, static_cast<size_t>(n));
  }
}

// The last non-empty line of `path` after byte `offset`, or "".
std::string LastLogLine(const std::string& path, std::streamoff offset) {
  std::ifstream in(path);
  if (!in) return "";
  in.seekg(offset);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!absl::StripAsciiWhitespace(line).empty()) last = line;
  }
  return std::string(absl::StripAsciiWhitespace(last));
}

std::streamoff FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

// Starts `binary` daemonized with `args` (argv without the program and
// --ready-fd) and `env`. Returns the daemon's pid once it is ready.
absl::StatusOr<long> StartDaemon(const EmbeddedPaths& paths,
                                 const std::string& binary,
                                 const std::vector<std::string>& server_args,
                                 std::vector<std::string> env,
                                 absl::Time deadline) {
  std::vector<std::string> args = {binary};
  args.insert(args.end(), server_args.begin(), server_args.end());
  args.push_back(absl::StrCat("--ready-fd=", kReadyFd));
  const CStringArray argv(std::move(args));
  const CStringArray envp(std::move(env));

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe");
  absl::Cleanup close_read = [&] { close(pipe_fds[0]); };
  const int log_fd = open(paths.log_file.c_str(),
                          O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    close(pipe_fds[1]);
    return ErrnoStatus(errno, absl::StrCat("cannot open ", paths.log_file));
  }
  const pid_t child = fork();
  if (child < 0) {
    const int err = errno;
    close(pipe_fds[1]);
    close(log_fd);
    return ErrnoStatus(err, "fork");
  }
  if (child == 0) {
    // Only async-signal-safe calls from here on.
    setsid();
    const pid_t daemon = fork();
    if (daemon != 0) {
      if (daemon > 0) WriteNumber(pipe_fds[1], daemon);
      _exit(daemon > 0 ? 0 : 1);
    }
    const int null_fd = open("/dev/null", O_RDWR);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 ||
        dup2(log_fd, 2) < 0 || dup2(pipe_fds[1], kReadyFd) < 0) {
      _exit(127);
    }
    close_range(kReadyFd + 1, ~0U, 0);
    // Do not pin the caller's working directory.
    if (chdir("/") != 0) _exit(127);
    umask(077);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(binary.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  close(log_fd);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  long pid = 0;
  absl::Status ready = AwaitReady(pipe_fds[0], deadline, &pid, paths.log_file);
  if (!ready.ok()) return ready;
  return pid;
}

// Writes "PID START_TIME\n" to the pid file, atomically.
absl::Status WritePidFile(const std::string& path, long pid) {
  absl::StatusOr<ProcStat> stat = ReadLiveProcess(static_cast<pid_t>(pid));
  const uint64_t start_time = stat.ok() ? stat->start_time : 0;
  return WriteFileAtomically(path, absl::StrCat(pid, " ", start_time, "\n"),
                             0600);
}

// The --idle-exit value that `args` leave in effect (the last one).
std::string IdleExitOf(const std::vector<std::string>& args) {
  std::string value;
  for (const std::string& arg : args) {
    absl::string_view rest = arg;
    if (absl::ConsumePrefix(&rest, "--idle_exit=") ||
        absl::ConsumePrefix(&rest, "--idle-exit=") ||
        absl::ConsumePrefix(&rest, "-idle_exit=") ||
        absl::ConsumePrefix(&rest, "-idle-exit=")) {
      value = std::string(rest);
    }
  }
  return value;
}

std::string ProgramName() {
  return program_invocation_short_name != nullptr
             ? program_invocation_short_name
             : "portlease";
}

}  // namespace

absl::Status CheckEmbeddedServerVersion(const std::string& version,
                                        const EmbeddedPaths& paths) {
  if (version == kClientVersion) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "the embedded portleased at ", paths.address(), " runs version ",
      version.empty() ? "(unknown)" : version, ", this client is ",
      kClientVersion, "; stop it with: portlease server stop --force (leases it "
      "holds are lost)"));
}

EmbeddedPaths EmbeddedServerPaths(const VariableLookup& env, unsigned uid) {
  auto get = [&env](absl::string_view name) -> std::string {
    std::optional<std::string> value = env(name);
    return value.value_or("");
  };
  EmbeddedPaths paths;
  const std::string runtime = get("XDG_RUNTIME_DIR");
  paths.runtime_dir = !runtime.empty()
                          ? absl::StrCat(runtime, "/portlease")
                          : absl::StrCat("/tmp/portlease-", uid);
  const std::string state = get("XDG_STATE_HOME");
  const std::string home = get("HOME");
  if (!state.empty()) {
    paths.state_dir = absl::StrCat(state, "/portlease");
  } else if (!home.empty()) {
    paths.state_dir = absl::StrCat(home, "/.local/state/portlease");
  } else {
    paths.state_dir = paths.runtime_dir;
  }
  const std::string config = get("XDG_CONFIG_HOME");
  if (!config.empty()) {
    paths.config_file = absl::StrCat(config, "/portlease/portleased.conf");
  } else if (!home.empty()) {
    paths.config_file =
        absl::StrCat(home, "/.config/portlease/portleased.conf");
  }
  paths.socket = paths.runtime_dir + "/portleased.sock";
  paths.pid_file = paths.runtime_dir + "/portleased.pid";
  paths.lock_file = paths.runtime_dir + "/start.lock";
  paths.database = paths.state_dir + "/leases.db";
  paths.log_file = paths.state_dir + "/portleased.log";
  return paths;
}

absl::Status PrepareEmbeddedDirs(const EmbeddedPaths& paths, unsigned uid) {
  for (const std::string* dir : {&paths.runtime_dir, &paths.state_dir}) {
    absl::Status made = MakeDirs(*dir, 0700);
    if (!made.ok()) return made;
  }
  struct stat st;
  if (stat(paths.runtime_dir.c_str(), &st) != 0) {
    return ErrnoStatus(errno, paths.runtime_dir);
  }
  if (st.st_uid != uid || (st.st_mode & 0077) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        paths.runtime_dir,
        " must be owned by this user and private (mode 0700)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> FindServerBinary(const VariableLookup& env) {
  if (std::optional<std::string> bin = env("PORTLEASE_SERVER_BIN");
      bin.has_value() && !bin->empty()) {
    if (IsExecutable(*bin)) {
      if ((*bin)[0] == '/') return *bin;
      // Made absolute: the daemon runs in "/".
      char cwd[PATH_MAX];
      if (getcwd(cwd, sizeof(cwd)) == nullptr) return *bin;
      return absl::StrCat(cwd, "/", *bin);
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "PORTLEASE_SERVER_BIN=", *bin, " is not an executable file"));
  }
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    std::string dir(self, static_cast<size_t>(n));
    dir.resize(dir.rfind('/') + 1);
    if (IsExecutable(dir + "portleased")) return dir + "portleased";
  }
  for (absl::string_view dir :
       absl::StrSplit(env("PATH").value_or(""), ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/portleased");
    if (IsExecutable(candidate)) return candidate;
  }
  return absl::FailedPreconditionError(
      "no portleased found (looked next to this program and on PATH); set "
      "PORTLEASE_SERVER_BIN or PORTLEASE_ADDR");
}

absl::StatusOr<std::vector<std::string>> ParseServerArgsText(
    absl::string_view text, absl::string_view source) {
  std::vector<std::string> args;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const std::string where = absl::StrCat(source, ":", line_number);
    absl::string_view name = line;
    if (!absl::ConsumePrefix(&name, "--") || name.empty() ||
        !absl::ascii_isalpha(name[0])) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": \"", line, "\" is not a --flag (one --flag=value a line)"));
    }
    name = name.substr(0, name.find('='));
    if (absl::StrContains(name, ' ') || absl::StrContains(name, '\t') ||
        absl::StrContains(line, " --") || absl::StrContains(line, "\t--")) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": \"", line, "\": one --flag=value a line"));
    }
    // portleased takes --flag-name and --flag_name alike.
    const std::string canonical = absl::StrReplaceAll(name, {{"-", "_"}});
    for (absl::string_view reserved : {"listen", "db", "ready_fd"}) {
      if (canonical == reserved) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": --", name,
            " is set by the client (the private server's socket and "
            "database have fixed paths; set PORTLEASE_ADDR to use another "
            "server)"));
      }
    }
    if (canonical == "reserve_pool") {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": --", name,
          " changes the host's settings, which a private server never "
          "does (it is for the system service)"));
    }
    args.push_back(std::string(line));
  }
  return args;
}

absl::StatusOr<EmbeddedServerArgs> LoadEmbeddedServerArgs(
    const VariableLookup& env, const EmbeddedPaths& paths) {
  EmbeddedServerArgs result;
  if (std::optional<std::string> text = env("PORTLEASE_SERVER_ARGS");
      text.has_value() && !absl::StripAsciiWhitespace(*text).empty()) {
    result.source = "PORTLEASE_SERVER_ARGS";
    std::string lines = absl::StrJoin(
        absl::StrSplit(*text, absl::ByAnyChar(" \t\n"), absl::SkipEmpty()),
        "\n");
    absl::StatusOr<std::vector<std::string>> args =
        ParseServerArgsText(lines, "PORTLEASE_SERVER_ARGS");
    if (!args.ok()) {
      // Line numbers mean nothing in a variable.
      std::string message(args.status().message());
      absl::string_view rest = message;
      if (absl::ConsumePrefix(&rest, "PORTLEASE_SERVER_ARGS:")) {
        rest.remove_prefix(std::min(rest.find(':'), rest.size()));
        message = absl::StrCat("PORTLEASE_SERVER_ARGS", rest);
      }
      return absl::InvalidArgumentError(message);
    }
    result.args = *std::move(args);
    return result;
  }
  if (paths.config_file.empty()) return result;
  struct stat st;
  if (stat(paths.config_file.c_str(), &st) != 0) return result;
  absl::StatusOr<std::string> text = ReadFile(paths.config_file);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::vector<std::string>> args =
      ParseServerArgsText(*text, paths.config_file);
  if (!args.ok()) return args.status();
  result.source = paths.config_file;
  result.args = *std::move(args);
  return result;
}

std::vector<std::string> EmbeddedServerEnvironment(
    const std::vector<std::string>& environ_items) {
  std::vector<std::string> kept;
  for (const std::string& item : environ_items) {
    absl::string_view name = absl::string_view(item).substr(0, item.find('='));
    if (name == "PATH" || name == "HOME" || name == "LANG" ||
        absl::StartsWith(name, "LC_") || absl::StartsWith(name, "XDG_")) {
      kept.push_back(item);
    }
  }
  return kept;
}

absl::StatusOr<EmbeddedPid> ReadEmbeddedPidFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return absl::NotFoundError(absl::StrCat("no pid file ", path));
  std::vector<absl::string_view> fields =
      absl::StrSplit(*text, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
  EmbeddedPid recorded;
  if (fields.empty() || fields.size() > 2 ||
      !absl::SimpleAtoi(fields[0], &recorded.pid) || recorded.pid <= 1 ||
      (fields.size() == 2 &&
       !absl::SimpleAtoi(fields[1], &recorded.start_time))) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": malformed pid file"));
  }
  return recorded;
}

bool IsEmbeddedServerProcess(const EmbeddedPid& recorded) {
  if (recorded.pid <= 1) return false;
  absl::StatusOr<ProcStat> stat = ReadLiveProcess(recorded.pid);
  if (!stat.ok()) return false;
  if (recorded.start_time != 0) return stat->start_time == recorded.start_time;
  return stat->comm == "portleased";
}

bool EmbeddedServerAlive(const EmbeddedPaths& paths) {
  std::ifstream in(absl::StrCat(paths.socket, ".lock"));
  long pid = 0;
  if (!(in >> pid) || pid <= 1) return false;
  return IsEmbeddedServerProcess(EmbeddedPid{.pid = static_cast<pid_t>(pid)});
}

absl::Status AwaitLiveServer(const EmbeddedPaths& paths,
                             const ServerProbe& probe, absl::Time deadline,
                             std::string* version) {
  absl::Status last;
  while (true) {
    absl::StatusOr<std::string> answered = probe(paths.address());
    if (answered.ok()) {
      *version = *std::move(answered);
      return absl::OkStatus();
    }
    last = answered.status();
    if (!EmbeddedServerAlive(paths)) {
      return absl::NotFoundError(absl::StrCat("no portleased at ",
                                              paths.address(), ": ",
                                              last.message()));
    }
    if (absl::Now() >= deadline) {
      return absl::UnavailableError(absl::StrCat(
          "the private portleased at ", paths.address(),
          " runs but does not answer (", last.message(), "); see ",
          paths.log_file));
    }
    absl::SleepFor(kPollStep);
  }
}

namespace {

// Starts the daemon with our flags plus the user's (`args` receives them
// all) and records its pid. FAILED_PRECONDITION for what only the user can
// fix (their flags); StartDaemon's errors, with the log's last line.
absl::StatusOr<long> LaunchServer(const EmbeddedPaths& paths,
                                  const std::string& binary,
                                  absl::Time deadline,
                                  std::vector<std::string>& args) {
  absl::StatusOr<EmbeddedServerArgs> user_args =
      LoadEmbeddedServerArgs(ProcessEnvironment(), paths);
  if (!user_args.ok()) {
    // Only the user can fix it: the exit code of a misconfiguration.
    return absl::FailedPreconditionError(user_args.status().message());
  }
  args = {absl::StrCat("--listen=", paths.address()),
          absl::StrCat("--db=", paths.database),
          absl::StrCat("--idle-exit=", kEmbeddedIdleExit),
          // portpicker users: PORTSERVER_ADDRESS=@portserver-$UID.
          absl::StrCat("--portserver-listen=@portserver-", getuid())};
  args.insert(args.end(), user_args->args.begin(), user_args->args.end());
  std::vector<std::string> environment;
  for (char** item = environ; item != nullptr && *item != nullptr; ++item) {
    environment.push_back(*item);
  }
  const std::streamoff log_start = FileSize(paths.log_file);
  absl::StatusOr<long> pid =
      StartDaemon(paths, binary, args,
                  EmbeddedServerEnvironment(environment), deadline);
  if (!pid.ok()) {
    const std::string said = LastLogLine(paths.log_file, log_start);
    if (!user_args->source.empty() && absl::StartsWith(said, "portleased: ")) {
      // A usage error: most likely the user's flags.
      return absl::FailedPreconditionError(absl::StrCat(
          "the private portleased did not start: ", said, " (its flags: ",
          user_args->source, ")"));
    }
    if (!said.empty() && pid.status().code() == absl::StatusCode::kUnavailable) {
      return absl::UnavailableError(
          absl::StrCat(pid.status().message(), ": ", said));
    }
    return pid.status();
  }
  absl::Status recorded = WritePidFile(paths.pid_file, *pid);
  if (!recorded.ok()) return recorded;
  return pid;
}

// Waits for the server just started (pid, with `args`) to answer, then
// says so on stderr and checks its version.
absl::Status AwaitStartedServer(const EmbeddedPaths& paths,
                                const ServerProbe& probe, long pid,
                                const std::vector<std::string>& args,
                                absl::Time deadline) {
  absl::Status last;
  while (true) {
    absl::StatusOr<std::string> version = probe(paths.address());
    if (version.ok()) {
      const std::string idle = IdleExitOf(args);
      std::fprintf(
          stderr,
          "%s: started a private portleased (pid %ld%s): socket %s, database "
          "%s, log %s; stop it with: portlease server stop\n",
          ProgramName().c_str(), pid,
          idle.empty() || idle == "0" || idle == "0s"
              ? ""
              : absl::StrCat(", exits after ", idle, " idle").c_str(),
          paths.socket.c_str(), paths.database.c_str(),
          paths.log_file.c_str());
      return CheckEmbeddedServerVersion(*version, paths);
    }
    last = version.status();
    if (absl::Now() >= deadline) {
      return absl::UnavailableError(absl::StrCat(
          "portleased (pid ", pid, ") reported ready but does not answer at ",
          paths.address(), ": ", last.message(), "; see ", paths.log_file));
    }
    absl::SleepFor(kPollStep);
  }
}

}  // namespace

absl::Status EnsureEmbeddedServer(const EmbeddedPaths& paths,
                                  const std::string& binary,
                                  const ServerProbe& probe,
                                  absl::Duration timeout, bool* started) {
  *started = false;
  const absl::Time deadline = absl::Now() + timeout;
  std::string version;
  if (absl::Status running = AwaitLiveServer(paths, probe, deadline, &version);
      running.code() != absl::StatusCode::kNotFound) {
    return running.ok() ? CheckEmbeddedServerVersion(version, paths)
                        : running;
  }
  const int lock_fd =
      open(paths.lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    return ErrnoStatus(errno, absl::StrCat("cannot open ", paths.lock_file));
  }
  absl::Cleanup close_lock = [lock_fd] { close(lock_fd); };
  while (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      return ErrnoStatus(errno, absl::StrCat("cannot lock ", paths.lock_file));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "timed out waiting for another process starting portleased (lock ",
          paths.lock_file, ")"));
    }
    absl::SleepFor(kPollStep);
  }
  // Under the lock: someone may have started it meanwhile.
  if (absl::Status running = AwaitLiveServer(paths, probe, deadline, &version);
      running.code() != absl::StatusCode::kNotFound) {
    return running.ok() ? CheckEmbeddedServerVersion(version, paths)
                        : running;
  }
  std::vector<std::string> args;
  absl::StatusOr<long> pid = LaunchServer(paths, binary, deadline, args);
  if (!pid.ok()) return pid.status();
  *started = true;
  return AwaitStartedServer(paths, probe, *pid, args, deadline);
}

}  // namespace portlease
