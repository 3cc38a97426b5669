// Runs the real portleased binary as a child process for tests: waits for
// its "ready ADDRESS..." line on --ready_fd, captures its stderr in a file,
// and signals only the pid it started. Every timeout is multiplied by the
// build's time factor (tests/support/test_ports.h).
#ifndef PORTLEASE_TESTS_SERVER_DAEMON_PROCESS_H_
#define PORTLEASE_TESTS_SERVER_DAEMON_PROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace portlease {

class DaemonProcess {
 public:
  // Starts `binary` with `args` plus --ready_fd=3, stderr to `stderr_path`.
  // Returns once the daemon is ready (addresses()), or has exited
  // (exited()), or `timeout` passed (then it is killed; DEADLINE_EXCEEDED).
  static absl::StatusOr<DaemonProcess> Start(
      const std::string& binary, const std::vector<std::string>& args,
      const std::string& stderr_path,
      absl::Duration timeout = absl::Seconds(20));

  DaemonProcess(DaemonProcess&& other) noexcept;
  DaemonProcess& operator=(DaemonProcess&&) = delete;
  // Kills (SIGKILL) and reaps the child if it is still running.
  ~DaemonProcess();

  pid_t pid() const { return pid_; }
  bool ready() const { return !addresses_.empty(); }
  const std::vector<std::string>& addresses() const { return addresses_; }

  // Sends `signal` to the child and waits up to `timeout` for it to exit.
  // Returns its wait status (see WIFEXITED), or nullopt on timeout (then it
  // is killed).
  std::optional<int> Stop(int signal,
                          absl::Duration timeout = absl::Seconds(20));
  // Waits for the child to exit by itself.
  std::optional<int> Wait(absl::Duration timeout = absl::Seconds(20));

  // The captured stderr so far.
  std::string Stderr() const;

 private:
  DaemonProcess(pid_t pid, std::string stderr_path)
      : pid_(pid), stderr_path_(std::move(stderr_path)) {}

  pid_t pid_ = -1;  // -1 once reaped
  std::string stderr_path_;
  std::vector<std::string> addresses_;
};

}  // namespace portlease

#endif  // PORTLEASE_TESTS_SERVER_DAEMON_PROCESS_H_
