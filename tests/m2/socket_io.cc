#include "tests/m2/socket_io.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace portlease::m2 {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// Milliseconds until `deadline` for poll(), clamped to [0, 1 minute].
int PollTimeoutMs(absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  const int64_t ms =
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)));
  return static_cast<int>(std::min<int64_t>(ms, 60000));
}

// Polls one fd for `events` until the deadline. DEADLINE_EXCEEDED on timeout.
absl::Status PollOne(int fd, short events, absl::Time deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, PollTimeoutMs(deadline));
    if (n > 0) return absl::OkStatus();
    if (n < 0 && errno != EINTR) return Errno("poll");
    if (n == 0 && absl::Now() >= deadline) {
      return absl::DeadlineExceededError("timed out");
    }
  }
}

}  // namespace

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) close(fd_);
}

int Fd::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

absl::StatusOr<Fd> ListenLoopback(uint16_t port) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return Errno("socket");
  const int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Errno(absl::StrCat("bind 127.0.0.1:", port));
  }
  if (listen(fd.get(), 64) != 0) return Errno("listen");
  return fd;
}

absl::StatusOr<uint16_t> LocalPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Errno("getsockname");
  }
  if (addr.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  }
  if (addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  }
  return absl::InvalidArgumentError("not an IP socket");
}

absl::StatusOr<Fd> Connect(const HostPort& address, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const std::string where = absl::StrCat(address.host, ":", address.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = absl::StrCat(address.port);
  if (int rc =
          getaddrinfo(address.host.c_str(), service.c_str(), &hints, &found);
      rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("resolve ", address.host, ": ", gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> owner(found, freeaddrinfo);
  absl::Status last = absl::UnavailableError(absl::StrCat("connect ", where));
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    Fd fd(socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                 ai->ai_protocol));
    if (fd.get() < 0) {
      last = Errno("socket");
      continue;
    }
    if (connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last = Errno(absl::StrCat("connect ", where));
        continue;
      }
      absl::Status polled = PollOne(fd.get(), POLLOUT, deadline);
      if (!polled.ok()) {
        return absl::DeadlineExceededError(
            absl::StrCat("connect ", where, ": timed out"));
      }
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        errno = err;
        last = Errno(absl::StrCat("connect ", where));
        continue;
      }
    }
    return fd;
  }
  return last;
}

absl::Status WriteAll(int fd, absl::string_view data, absl::Time deadline) {
  while (!data.empty()) {
    const ssize_t n =
        send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      absl::Status st = PollOne(fd, POLLOUT, deadline);
      if (!st.ok()) return st;
      continue;
    }
    return Errno("send");
  }
  return absl::OkStatus();
}

namespace {

// Reads what is available (at most `max`), waiting until the deadline.
// Returns the bytes; UNAVAILABLE on EOF.
absl::StatusOr<std::string> ReadSome(int fd, size_t max, absl::Time deadline) {
  for (;;) {
    absl::Status st = PollOne(fd, POLLIN, deadline);
    if (!st.ok()) return st;
    std::string buf(max, '\0');
    const ssize_t n = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n > 0) {
      buf.resize(static_cast<size_t>(n));
      return buf;
    }
    if (n == 0) return absl::UnavailableError("connection closed by peer");
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    return Errno("recv");
  }
}

}  // namespace

absl::StatusOr<std::string> ReadUntil(int fd, absl::string_view terminator,
                                      size_t max_bytes, absl::Time deadline) {
  std::string got;
  while (!absl::StrContains(got, terminator)) {
    if (got.size() >= max_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("more than ", max_bytes, " bytes without terminator"));
    }
    absl::StatusOr<std::string> more =
        ReadSome(fd, max_bytes - got.size(), deadline);
    if (!more.ok()) return more.status();
    got += *more;
  }
  return got;
}

absl::StatusOr<std::string> ReadExactly(int fd, size_t n, absl::Time deadline) {
  std::string got;
  while (got.size() < n) {
    absl::StatusOr<std::string> more = ReadSome(fd, n - got.size(), deadline);
    if (!more.ok()) return more.status();
    got += *more;
  }
  return got;
}

absl::StatusOr<int> WaitReadable(const std::vector<int>& fds, int stop_fd,
                                 absl::Time deadline) {
  std::vector<pollfd> polled;
  for (int fd : fds) polled.push_back({fd, POLLIN, 0});
  if (stop_fd >= 0) polled.push_back({stop_fd, POLLIN, 0});
  for (;;) {
    for (pollfd& p : polled) p.revents = 0;
    const int n = poll(polled.data(), polled.size(), PollTimeoutMs(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("poll");
    if (n == 0) {
      if (absl::Now() >= deadline) return kWaitTimedOut;
      continue;
    }
    if (stop_fd >= 0 && polled.back().revents != 0) return kWaitStopped;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (polled[i].revents != 0) return static_cast<int>(i);
    }
  }
}

absl::StatusOr<Fd> Accept(int listen_fd) {
  for (;;) {
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) return Fd(fd);
    if (errno == EINTR) continue;
    return Errno("accept");
  }
}

}  // namespace portlease::m2
