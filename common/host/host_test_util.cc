#include "common/host/host_test_util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace portlease {
namespace testing_util {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::ErrnoToStatus(errno, what);
}

// Fills `storage` from a numeric address and port; returns its length, 0 if
// the address does not parse.
socklen_t MakeAddress(const std::string& address, Port port,
                      sockaddr_storage* storage) {
  std::memset(storage, 0, sizeof(*storage));
  auto* v4 = reinterpret_cast<sockaddr_in*>(storage);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return sizeof(sockaddr_in);
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(storage);
  if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return sizeof(sockaddr_in6);
  }
  return 0;
}

}  // namespace

ScopedFd& ScopedFd::operator=(ScopedFd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.release();
  }
  return *this;
}

int ScopedFd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void ScopedFd::reset() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

absl::StatusOr<ScopedFd> OpenSocket(const SocketSpec& spec) {
  sockaddr_storage storage;
  const socklen_t length = MakeAddress(spec.address, spec.port, &storage);
  if (length == 0) {
    return absl::InvalidArgumentError(absl::StrCat("address ", spec.address));
  }
  ScopedFd fd(socket(storage.ss_family, spec.type | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Errno("socket");
  const int one = 1;
  if (spec.reuse_address &&
      setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    return Errno("SO_REUSEADDR");
  }
  if (storage.ss_family == AF_INET6) {
    const int v6only = spec.v6only ? 1 : 0;
    if (setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
                   sizeof(v6only)) != 0) {
      return Errno("IPV6_V6ONLY");
    }
  }
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    return Errno(absl::StrCat("bind ", spec.address, ":", spec.port));
  }
  if (spec.listen && listen(fd.get(), 16) != 0) return Errno("listen");
  return fd;
}

Port LocalPort(int fd) {
  sockaddr_storage storage;
  socklen_t length = sizeof(storage);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    return 0;
  }
  if (storage.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
}

absl::StatusOr<ScopedFd> ConnectLoopback(Port port, Port from_port,
                                         absl::Duration timeout) {
  absl::StatusOr<ScopedFd> fd = OpenSocket({.type = SOCK_STREAM,
                                            .address = "127.0.0.1",
                                            .port = from_port,
                                            .reuse_address = from_port != 0});
  if (!fd.ok()) return fd.status();
  const int flags = fcntl(fd->get(), F_GETFL);
  if (flags < 0 || fcntl(fd->get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return Errno("fcntl");
  }
  sockaddr_storage storage;
  const socklen_t length = MakeAddress("127.0.0.1", port, &storage);
  if (connect(fd->get(), reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    if (errno != EINPROGRESS) return Errno("connect");
    pollfd waiter = {fd->get(), POLLOUT, 0};
    const int ready =
        poll(&waiter, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    if (ready == 0) return absl::DeadlineExceededError("connect timed out");
    if (ready < 0) return Errno("poll");
    int error = 0;
    socklen_t error_length = sizeof(error);
    getsockopt(fd->get(), SOL_SOCKET, SO_ERROR, &error, &error_length);
    if (error != 0) return absl::ErrnoToStatus(error, "connect");
  }
  if (fcntl(fd->get(), F_SETFL, flags) != 0) return Errno("fcntl");
  return fd;
}

bool SetLingerZero(int fd) {
  linger value = {1, 0};
  return setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, sizeof(value)) == 0;
}

int CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int count = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // The directory stream's own descriptor.
}

uint64_t SocketInode(int fd) {
  struct stat info;
  if (fstat(fd, &info) != 0) return 0;
  return info.st_ino;
}

std::vector<SocketEntry> LiveEntries(Port port, bool udp) {
  std::vector<SocketEntry> matching;
  absl::StatusOr<std::vector<SocketEntry>> all =
      ReadSocketTable("/proc", {.tcp = true, .udp = udp});
  EXPECT_TRUE(all.ok()) << all.status();
  if (!all.ok()) return matching;
  for (const SocketEntry& entry : *all) {
    if (entry.local_port == port) matching.push_back(entry);
  }
  return matching;
}

bool WriteFixture(const std::string& root, const std::string& relative,
                  absl::string_view content) {
  const std::filesystem::path path = std::filesystem::path(root) / relative;
  std::error_code error;
  std::filesystem::create_directories(path.parent_path(), error);
  if (error) return false;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  return out.good();
}

}  // namespace testing_util
}  // namespace portlease
