#include "server/portserver/portserver_server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/system/errno_status.h"

namespace portlease {
namespace {

// Enough to see that a request is longer than the 20 bytes allowed.
constexpr size_t kMaxReadBytes = 21;

absl::Status OsError(absl::string_view what, absl::string_view address,
                     int error) {
  return absl::UnavailableError(
      absl::StrCat("cannot ", what, " portserver socket ", address, ": ",
                   std::strerror(error)));
}

// The address and its length: abstract for "@NAME".
socklen_t MakeAddress(absl::string_view address, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (address[0] == '@') {
    std::memcpy(addr->sun_path + 1, address.data() + 1, address.size() - 1);
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                  address.size());
  }
  std::memcpy(addr->sun_path, address.data(), address.size());
  return static_cast<socklen_t>(sizeof(*addr));
}

// The request's bytes: up to the first newline, the end of the stream,
// kMaxReadBytes, or `timeout`, whichever comes first.
std::string ReadRequest(int fd, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string request;
  while (request.size() < kMaxReadBytes &&
         request.find('\n') == std::string::npos) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    pollfd pfd = {fd, POLLIN, 0};
    const int ready =
        poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    char buffer[kMaxReadBytes];
    const ssize_t got =
        recv(fd, buffer, kMaxReadBytes - request.size(), MSG_DONTWAIT);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) break;
    request.append(buffer, static_cast<size_t>(got));
  }
  return request;
}

}  // namespace

absl::Status CheckPortserverAddress(absl::string_view address) {
  if (address.empty() || address == "@") {
    return absl::InvalidArgumentError(
        "a portserver address is @NAME (abstract) or a socket path");
  }
  if (address.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "portserver address ", address, " is longer than ",
        sizeof(sockaddr_un::sun_path) - 1, " bytes"));
  }
  return absl::OkStatus();
}

PortserverServer::PortserverServer(PortserverServerOptions options)
    : options_(std::move(options)), leases_(options_.leases) {}

absl::StatusOr<std::unique_ptr<PortserverServer>> PortserverServer::Start(
    PortserverServerOptions options) {
  std::unique_ptr<PortserverServer> server(
      new PortserverServer(std::move(options)));
  for (const std::string& address : server->options_.listen) {
    if (absl::Status s = CheckPortserverAddress(address); !s.ok()) return s;
    if (absl::Status s = server->Listen(address); !s.ok()) return s;
  }
  if (pipe2(server->wake_, O_CLOEXEC) != 0) {
    return ErrnoStatus(errno, "portserver: pipe");
  }
  PortserverServer* self = server.get();
  self->threads_.emplace_back([self] { self->Accept(); });
  self->threads_.emplace_back([self] { self->Check(); });
  for (int i = 0; i < self->options_.workers; ++i) {
    self->threads_.emplace_back([self] { self->Work(); });
  }
  return server;
}

absl::Status PortserverServer::Listen(const std::string& address) {
  sockaddr_un addr;
  const socklen_t length = MakeAddress(address, &addr);
  const bool abstract = address[0] == '@';
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return OsError("create", address, errno);
  struct stat st;
  if (!abstract && lstat(address.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    unlink(address.c_str());  // a stale socket: the caller holds the lock
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), length) != 0) {
    const int error = errno;
    close(fd);
    if (abstract && error == EADDRINUSE) {
      skipped_.push_back(address);
      return absl::OkStatus();
    }
    return OsError("bind", address, error);
  }
  auto fail = [&](absl::string_view what) {
    const int error = errno;
    close(fd);
    if (!abstract) unlink(address.c_str());
    return OsError(what, address, error);
  };
  if (!abstract) {
    if (chmod(address.c_str(), options_.mode) != 0) return fail("chmod");
    if (options_.group != static_cast<gid_t>(-1) &&
        chown(address.c_str(), static_cast<uid_t>(-1), options_.group) != 0) {
      return fail("chgrp");
    }
    paths_.push_back(address);
  }
  if (listen(fd, SOMAXCONN) != 0) return fail("listen on");
  listen_fds_.push_back(fd);
  addresses_.push_back(address);
  return absl::OkStatus();
}

PortserverServer::~PortserverServer() {
  Stop();
  for (int fd : wake_) {
    if (fd >= 0) close(fd);
  }
}

bool PortserverServer::Stopped() {
  absl::MutexLock lock(&mu_);
  return stopped_;
}

void PortserverServer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  if (wake_[1] >= 0) {
    const char byte = 0;
    ssize_t ignored = write(wake_[1], &byte, 1);
    (void)ignored;
  }
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  for (int fd : listen_fds_) close(fd);
  listen_fds_.clear();
  for (const std::string& path : paths_) unlink(path.c_str());
  std::deque<int> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(queue_);
  }
  for (int fd : left) {
    close(fd);
    if (options_.on_request_ended) options_.on_request_ended();
  }
}

void PortserverServer::Accept() {
  std::vector<pollfd> fds;
  for (int fd : listen_fds_) fds.push_back({fd, POLLIN, 0});
  fds.push_back({wake_[0], POLLIN, 0});
  while (!Stopped()) {
    // Bounded: the stop flag is checked at least once a second.
    if (poll(fds.data(), fds.size(), 1000) <= 0) continue;
    for (size_t i = 0; i + 1 < fds.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      const int fd = accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        // EMFILE and friends: back off a little instead of spinning.
        if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
          poll(nullptr, 0, 50);
        }
        continue;
      }
      if (options_.on_request_started) options_.on_request_started();
      absl::MutexLock lock(&mu_);
      if (queue_.size() < options_.max_queued) {
        queue_.push_back(fd);
        continue;
      }
      close(fd);  // flooded: the client sees no port, as for a refusal
      if (options_.on_request_ended) options_.on_request_ended();
    }
  }
}

void PortserverServer::Work() {
  while (true) {
    int fd = -1;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](PortserverServer* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(
               self->mu_) { return self->stopped_ || !self->queue_.empty(); },
          this));
      if (stopped_) return;
      fd = queue_.front();
      queue_.pop_front();
    }
    Serve(fd);
    if (options_.on_request_ended) options_.on_request_ended();
  }
}

void PortserverServer::Check() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopped_),
                               options_.check_interval)) {
        return;
      }
    }
    leases_.ReleaseExited();
  }
}

void PortserverServer::Serve(int fd) {
  ucred credentials;
  socklen_t size = sizeof(credentials);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) != 0) {
    close(fd);
    return;
  }
  const std::string request = ReadRequest(fd, options_.read_timeout);
  absl::StatusOr<Port> port =
      leases_.Grant(request, {credentials.pid, credentials.uid});
  if (port.ok()) {
    const std::string answer = absl::StrCat(*port, "\n");
    // The client may be gone: its process's exit ends the lease.
    ssize_t ignored = send(fd, answer.data(), answer.size(),
                           MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)ignored;
  } else if (options_.on_refused) {
    options_.on_refused(port.status());
  }
  close(fd);
}

}  // namespace portlease
