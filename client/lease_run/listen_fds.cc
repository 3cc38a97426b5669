#include "lease_run/listen_fds.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace portlease {
namespace {

// "127.0.0.1:20000", "[::1]:20000".
std::string HostPort(const ListenAddress& host, uint16_t port) {
  if (host.address.ss_family == AF_INET6) {
    char text[INET6_ADDRSTRLEN] = {};
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&host.address);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    return absl::StrCat("[", text, "]:", port);
  }
  char text[INET_ADDRSTRLEN] = {};
  const auto* in4 = reinterpret_cast<const sockaddr_in*>(&host.address);
  inet_ntop(AF_INET, &in4->sin_addr, text, sizeof(text));
  return absl::StrCat(text, ":", port);
}

// A socket listening on `host`:`port`, close-on-exec, numbered at least
// `lowest`; -1 with errno set on failure.
int ListenOn(const ListenAddress& host, uint16_t port, int lowest) {
  sockaddr_storage address = host.address;
  if (address.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&address)->sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in*>(&address)->sin_port = htons(port);
  }
  const int made = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (made < 0) return -1;
  // Above the numbers the command gets them as (3, 4, ...), so placing
  // them there never overwrites another of them. The lower copy is closed
  // before the socket is bound: nothing is given up.
  const int fd = fcntl(made, F_DUPFD_CLOEXEC, lowest);
  const int saved = errno;
  close(made);
  errno = saved;
  if (fd < 0) return -1;
  // As systemd's sockets: a port whose last connections linger in
  // TIME_WAIT can be listened on again; an active listener still excludes.
  const int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(fd, reinterpret_cast<const sockaddr*>(&address), host.length) != 0 ||
      listen(fd, SOMAXCONN) != 0) {
    const int failed = errno;
    close(fd);
    errno = failed;
    return -1;
  }
  return fd;
}

}  // namespace

absl::StatusOr<ListenAddress> ParseListenHost(const std::string& text) {
  ListenAddress parsed;
  parsed.text = text;
  std::string literal = text;
  if (literal.size() > 2 && literal.front() == '[' && literal.back() == ']') {
    literal = literal.substr(1, literal.size() - 2);
  }
  auto* in4 = reinterpret_cast<sockaddr_in*>(&parsed.address);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&parsed.address);
  if (literal == text &&
      inet_pton(AF_INET, literal.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    parsed.length = sizeof(sockaddr_in);
    return parsed;
  }
  if (inet_pton(AF_INET6, literal.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    parsed.length = sizeof(sockaddr_in6);
    return parsed;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--listen-host ", text, ": want a literal IPv4 or IPv6 address"));
}

std::string ListenFdName(const std::string& port_name, size_t index) {
  return port_name.empty() ? absl::StrCat("p", index) : port_name;
}

Variables ListenFdsVariables(const std::vector<NamedPort>& ports) {
  std::vector<std::string> names;
  for (size_t i = 0; i < ports.size(); ++i) {
    names.push_back(ListenFdName(ports[i].name, i));
  }
  return {{"LISTEN_FDS", absl::StrCat(ports.size())},
          {"LISTEN_FDNAMES", absl::StrJoin(names, ":")}};
}

std::vector<std::string> ListenFdsCommand(
    const std::vector<std::string>& command) {
  // $$ is the shell's pid, which exec hands on to the command. The shell
  // is named lease-run in its own messages ($0).
  std::vector<std::string> argv = {
      "/bin/sh", "-c", "LISTEN_PID=$$; export LISTEN_PID; exec \"$@\"",
      "lease-run"};
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

absl::Status CheckCommandRunnable(const std::string& name) {
  std::vector<std::string> candidates;
  if (name.find('/') != std::string::npos) {
    candidates.push_back(name);
  } else {
    const char* path = std::getenv("PATH");
    for (absl::string_view dir :
         absl::StrSplit(path != nullptr ? path : "/usr/bin:/bin", ':')) {
      candidates.push_back(absl::StrCat(dir.empty() ? "." : dir, "/", name));
    }
  }
  int error = ENOENT;
  for (const std::string& candidate : candidates) {
    struct stat st;
    if (stat(candidate.c_str(), &st) != 0) continue;
    if (S_ISREG(st.st_mode) && access(candidate.c_str(), X_OK) == 0) {
      return absl::OkStatus();
    }
    error = EACCES;
  }
  const std::string message =
      absl::StrCat("cannot run ", name, ": ", std::strerror(error));
  if (error == ENOENT) return absl::NotFoundError(message);
  return absl::PermissionDeniedError(message);
}

absl::StatusOr<ListenSockets> ListenSockets::Bind(
    const ListenAddress& host, const std::vector<NamedPort>& ports) {
  ListenSockets sockets;
  const int lowest = 3 + static_cast<int>(ports.size());
  for (size_t i = 0; i < ports.size(); ++i) {
    const int fd = ListenOn(host, ports[i].port, lowest);
    if (fd < 0) {
      const int error = errno;
      std::string message = absl::StrCat(
          "cannot bind ", HostPort(host, ports[i].port), " (port ",
          ListenFdName(ports[i].name, i), "): ", std::strerror(error));
      if (error == EADDRINUSE) return absl::UnavailableError(message);
      return absl::FailedPreconditionError(message);
    }
    sockets.fds_.push_back(fd);
  }
  return sockets;
}

ListenSockets& ListenSockets::operator=(ListenSockets&& other) noexcept {
  if (this != &other) {
    CloseAll();
    fds_ = std::exchange(other.fds_, {});
  }
  return *this;
}

ListenSockets::~ListenSockets() { CloseAll(); }

void ListenSockets::CloseAll() {
  for (int fd : fds_) close(fd);
  fds_.clear();
}

}  // namespace portlease

namespace portlease {

absl::Status CheckListenFdsFlags(const LeaseRunOptions& options) {
  if (!options.listen_fds) {
    if (options.listen_host != kDefaultListenHost) {
      return absl::InvalidArgumentError("--listen-host needs --listen-fds");
    }
    return absl::OkStatus();
  }
  if (options.detach || !options.release_env_file.empty() ||
      !options.ctest_resource_spec.empty()) {
    return absl::InvalidArgumentError(
        "--listen-fds hands sockets to a command run under the lease: not "
        "with --detach, --release-env-file or --ctest-resource-spec");
  }
  if (options.udp) {
    return absl::InvalidArgumentError(
        "--listen-fds passes TCP sockets only: not with --udp");
  }
  return ParseListenHost(options.listen_host).status();
}

std::optional<Failure> PrepareListenFds(const LeaseRunOptions& options,
                                        const ScopedLease& lease,
                                        Variables* vars,
                                        std::vector<std::string>* command,
                                        std::vector<int>* fds) {
  absl::StatusOr<ListenAddress> host = ParseListenHost(options.listen_host);
  if (!host.ok()) {
    return Failure{kExitUsage, std::string(host.status().message())};
  }
  absl::Status runnable = CheckCommandRunnable(options.command.front());
  if (!runnable.ok()) {
    return Failure{runnable.code() == absl::StatusCode::kNotFound
                       ? kExitNotFound
                       : kExitCannotExecute,
                   std::string(runnable.message())};
  }
  std::vector<NamedPort> ports;
  for (const v1::PortAssignment& port : lease.lease().ports()) {
    ports.push_back({port.name(), static_cast<uint16_t>(port.port())});
  }
  absl::StatusOr<ListenSockets> sockets = ListenSockets::Bind(*host, ports);
  if (!sockets.ok()) {
    return Failure{sockets.status().code() == absl::StatusCode::kUnavailable
                       ? kExitTempFail
                       : 1,
                   std::string(sockets.status().message())};
  }
  for (auto& variable : ListenFdsVariables(ports)) {
    vars->push_back(std::move(variable));
  }
  *command = ListenFdsCommand(options.command);
  *fds = sockets->TakeFds();
  return std::nullopt;
}

}  // namespace portlease
