#include "tests/client/test_support.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/system/c_string_array.h"
#include "tests/support/test_ports.h"

extern char** environ;

namespace portlease::testing {

std::vector<std::string> ChildEnvironment(const EnvChanges& env) {
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    const char* eq = std::strchr(*e, '=');
    const std::string key = eq ? std::string(*e, eq - *e) : std::string(*e);
    if (env.count(key) == 0) out.emplace_back(*e);
  }
  for (const auto& [key, value] : env) {
    if (value.has_value()) out.push_back(key + "=" + *value);
  }
  return out;
}

namespace {

std::atomic<int> process_counter{0};

pid_t SpawnWithEnv(const std::vector<std::string>& argv, const EnvChanges& env,
                   int stdout_fd, int stderr_fd, int extra_fd) {
  const CStringArray envp(ChildEnvironment(env));
  const CStringArray c_argv(argv);
  const pid_t pid = fork();
  if (pid == 0) {
    const int null_fd = open("/dev/null", O_RDONLY);
    dup2(null_fd, 0);
    if (stdout_fd >= 0) dup2(stdout_fd, 1);
    if (stderr_fd >= 0) dup2(stderr_fd, 2);
    if (extra_fd >= 0) dup2(extra_fd, 3);
    close_range(extra_fd >= 0 ? 4 : 3, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(c_argv[0], c_argv.data(), envp.data());
    _exit(127);
  }
  return pid;
}

}  // namespace

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::string> ShBlockStartingWith(const std::string& path,
                                             const std::string& first_line) {
  std::ifstream in(path);
  std::string line;
  std::vector<std::string> block;
  bool in_block = false;
  while (std::getline(in, line)) {
    if (!in_block && line == "```sh") {
      block.clear();
      in_block = true;
    } else if (in_block && line == "```") {
      in_block = false;
      if (!block.empty() && block[0].rfind(first_line, 0) == 0) return block;
      block.clear();
    } else if (in_block) {
      block.push_back(line);
    }
  }
  return {};
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

absl::StatusOr<std::unique_ptr<TestServer>> TestServer::Start(
    const std::string& dir, const std::vector<std::string>& extra_args,
    const std::string& socket, const std::string& db) {
  const std::string address = absl::StrCat("unix:", dir, "/", socket);
  std::vector<std::string> argv = {PORTLEASED_BIN, "--listen", address,
                                   "--db",         db,         "--probe=none",
                                   "--ready_fd=3"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe");
  // server.log for the default socket, SOCKET.log for another one.
  const std::string log =
      dir + "/" + (socket == "s.sock" ? "server" : socket) + ".log";
  const int log_fd =
      open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const pid_t pid = SpawnWithEnv(argv, {}, log_fd, log_fd, fds[1]);
  close(fds[1]);
  close(log_fd);
  auto server = std::unique_ptr<TestServer>(new TestServer(pid, address));
  std::string data;
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (data.find('\n') == std::string::npos) {
    const int left =
        static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    struct pollfd pfd = {fds[0], POLLIN, 0};
    if (left <= 0 || poll(&pfd, 1, left) <= 0) break;
    char buf[256];
    const ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  if (data.rfind("ready", 0) != 0) {
    return absl::UnavailableError(
        absl::StrCat("portleased did not start: ", ReadFileOrEmpty(log)));
  }
  return server;
}

void TestServer::Crash() {
  if (reaped_) return;
  kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  reaped_ = true;
}

TestServer::~TestServer() {
  if (reaped_) return;
  kill(pid_, SIGCONT);  // a stopped server would never see the SIGTERM
  kill(pid_, SIGTERM);
  int status;
  if (!PollUntil([&] { return waitpid(pid_, &status, WNOHANG) == pid_; },
                 absl::Seconds(5))) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  }
}

absl::StatusOr<std::unique_ptr<Process>> Process::Start(
    const std::vector<std::string>& argv, const EnvChanges& env,
    const std::string& dir) {
  const int n = process_counter.fetch_add(1);
  std::string out = absl::StrCat(dir, "/p", n, ".out");
  std::string err = absl::StrCat(dir, "/p", n, ".err");
  const int out_fd =
      open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int err_fd =
      open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out_fd < 0 || err_fd < 0) return absl::InternalError("open output");
  const pid_t pid = SpawnWithEnv(argv, env, out_fd, err_fd, -1);
  close(out_fd);
  close(err_fd);
  if (pid < 0) return absl::InternalError("fork");
  return std::unique_ptr<Process>(
      new Process(pid, std::move(out), std::move(err)));
}

Process::~Process() {
  if (reaped_) return;
  kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
}

absl::StatusOr<int> Process::Wait(absl::Duration timeout) {
  int status = 0;
  if (!PollUntil([&] { return waitpid(pid_, &status, WNOHANG) == pid_; },
                 timeout)) {
    return absl::DeadlineExceededError(absl::StrCat("pid ", pid_, " still runs"));
  }
  reaped_ = true;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

std::string Process::out() const { return ReadFileOrEmpty(out_); }
std::string Process::err() const { return ReadFileOrEmpty(err_); }

RunResult RunBinary(const std::vector<std::string>& argv, const EnvChanges& env,
              const std::string& dir, absl::Duration timeout) {
  RunResult result;
  absl::StatusOr<std::unique_ptr<Process>> process =
      Process::Start(argv, env, dir);
  if (!process.ok()) return result;
  absl::StatusOr<int> code = (*process)->Wait(timeout);
  result.exit_code = code.ok() ? *code : -1;
  result.out = (*process)->out();
  result.err = (*process)->err();
  return result;
}

}  // namespace portlease::testing
