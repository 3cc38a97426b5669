// Test support for the client integration tests: a real portleased on a
// Unix socket, and running the binaries with a bounded wait. Temp dirs,
// polling and stopping a process are testing/'s TempDir, PollUntil and
// StopProcess, included here.
#ifndef PORTLEASE_TESTS_CLIENT_TEST_SUPPORT_H_
#define PORTLEASE_TESTS_CLIENT_TEST_SUPPORT_H_

#include <signal.h>
#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "testing/poll_until.h"  // IWYU pragma: export
#include "testing/stop_process.h"  // IWYU pragma: export
#include "testing/temp_dir.h"  // IWYU pragma: export

namespace portlease::testing {

std::string ReadFileOrEmpty(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);

// The lines of the first ```sh block of the markdown file at `path` whose
// first line starts with `first_line`; empty when there is none.
std::vector<std::string> ShBlockStartingWith(const std::string& path,
                                             const std::string& first_line);

// A portleased started by the test: `--listen unix:DIR/SOCKET --db DB
// --probe=none` plus `extra_args`; killed (SIGTERM, then SIGKILL) on
// destruction.
class TestServer {
 public:
  static absl::StatusOr<std::unique_ptr<TestServer>> Start(
      const std::string& dir, const std::vector<std::string>& extra_args,
      const std::string& socket = "s.sock", const std::string& db = ":memory:");
  ~TestServer();
  const std::string& address() const { return address_; }
  pid_t pid() const { return pid_; }
  // SIGKILLs it now (a crash: nothing is cleaned up) and reaps it.
  void Crash();
  // Stops it (SIGSTOP: a hung server) and returns once every thread is
  // stopped (testing/stop_process.h); Continue() lets it go on.
  absl::Status Stop() const { return StopProcess(pid_); }
  void Continue() const { kill(pid_, SIGCONT); }

 private:
  TestServer(pid_t pid, std::string address)
      : pid_(pid), address_(std::move(address)) {}
  pid_t pid_;
  bool reaped_ = false;
  std::string address_;
};

// Environment changes for a child: a value sets, nullopt unsets.
using EnvChanges = std::map<std::string, std::optional<std::string>>;

// This process's environment with `env` applied, as "KEY=value" strings
// for execve (built before a fork: the child of a threaded process may
// only make async-signal-safe calls).
std::vector<std::string> ChildEnvironment(const EnvChanges& env);

// A started binary, stdout and stderr going to files in `dir`.
class Process {
 public:
  static absl::StatusOr<std::unique_ptr<Process>> Start(
      const std::vector<std::string>& argv, const EnvChanges& env,
      const std::string& dir);
  ~Process();  // SIGKILLs and reaps it if still running
  pid_t pid() const { return pid_; }
  // Waits up to `timeout`; the exit code (128+signal when killed), or
  // DEADLINE_EXCEEDED.
  absl::StatusOr<int> Wait(absl::Duration timeout);
  std::string out() const;
  std::string err() const;

 private:
  Process(pid_t pid, std::string out, std::string err)
      : pid_(pid), out_(std::move(out)), err_(std::move(err)) {}
  pid_t pid_;
  bool reaped_ = false;
  std::string out_;
  std::string err_;
};

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Starts and waits (bounded by `timeout`; the result's exit_code is -1 on
// timeout). Every timeout here (Process::Wait, RunBinary) is multiplied by
// the build's time factor (testing/time_scale.h).
RunResult RunBinary(const std::vector<std::string>& argv, const EnvChanges& env,
              const std::string& dir, absl::Duration timeout = absl::Seconds(20));

}  // namespace portlease::testing

#endif  // PORTLEASE_TESTS_CLIENT_TEST_SUPPORT_H_
