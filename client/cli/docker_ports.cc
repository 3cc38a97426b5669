#include "cli/docker_ports.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/system/c_string_array.h"
#include "common/system/errno_status.h"

extern char** environ;

namespace portlease {
namespace {

constexpr absl::Duration kDockerTimeout = absl::Seconds(10);

// "8000-8001" or "8000" -> [first, last]; false if malformed.
bool ParsePortSpan(absl::string_view text, uint32_t* first, uint32_t* last) {
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(text, absl::MaxSplits('-', 1));
  if (!absl::SimpleAtoi(parts.first, first)) return false;
  if (parts.second.empty()) {
    *last = *first;
  } else if (!absl::SimpleAtoi(parts.second, last)) {
    return false;
  }
  return *first >= 1 && *first <= *last && *last <= 65535;
}

// One entry of the Ports column, e.g. "0.0.0.0:6379->6379/tcp" or
// ":::8000-8001->80-81/tcp"; nothing for "80/tcp" (exposed only).
void AddMapping(const std::string& container, absl::string_view mapping,
                std::vector<PublishedPort>* out) {
  const size_t arrow = mapping.find("->");
  if (arrow == absl::string_view::npos) return;
  absl::string_view host = mapping.substr(0, arrow);
  absl::string_view target = mapping.substr(arrow + 2);
  const size_t slash = target.rfind('/');
  const std::string protocol(
      slash == absl::string_view::npos ? "tcp" : target.substr(slash + 1));
  const size_t colon = host.rfind(':');
  if (colon == absl::string_view::npos) return;
  uint32_t first = 0, last = 0;
  if (!ParsePortSpan(host.substr(colon + 1), &first, &last)) return;
  for (uint32_t port = first; port <= last; ++port) {
    out->push_back({container, port, protocol, std::string(mapping)});
  }
}

// Reads `fd` to EOF, until `deadline`.
absl::StatusOr<std::string> ReadAll(int fd, absl::Time deadline) {
  std::string text;
  char buffer[4096];
  while (true) {
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return absl::DeadlineExceededError("docker ps took over 10s");
    pollfd waiter = {fd, POLLIN, 0};
    const int ready = poll(&waiter, 1, static_cast<int>(ms));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return ErrnoStatus(errno, "poll");
    if (ready == 0) continue;
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read docker ps output");
    if (n == 0) return text;
    text.append(buffer, static_cast<size_t>(n));
  }
}

}  // namespace

std::vector<PublishedPort> ParseDockerPs(absl::string_view text) {
  std::vector<PublishedPort> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> columns =
        absl::StrSplit(line, absl::MaxSplits('\t', 1));
    const std::string container(absl::StripAsciiWhitespace(columns.first));
    for (absl::string_view mapping : absl::StrSplit(columns.second, ',')) {
      AddMapping(container, absl::StripAsciiWhitespace(mapping), &out);
    }
  }
  return out;
}

absl::StatusOr<std::vector<PublishedPort>> ListPublishedPorts() {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  const CStringArray argv(
      {"docker", "ps", "--format", "{{.Names}}\t{{.Ports}}"});
  pid_t pid = -1;
  const int spawned =
      posix_spawnp(&pid, "docker", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (spawned != 0) {
    close(pipe_fds[0]);
    if (spawned == ENOENT) {
      return absl::NotFoundError("no docker CLI on PATH");
    }
    return ErrnoStatus(spawned, "cannot run docker");
  }
  absl::StatusOr<std::string> output =
      ReadAll(pipe_fds[0], absl::Now() + kDockerTimeout);
  close(pipe_fds[0]);
  if (!output.ok()) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!output.ok()) return output.status();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string said(absl::StripAsciiWhitespace(*output));
    if (const size_t newline = said.find('\n'); newline != std::string::npos) {
      said.resize(newline);
    }
    return absl::UnavailableError(absl::StrCat("docker ps failed: ", said));
  }
  return ParseDockerPs(*output);
}

}  // namespace portlease
