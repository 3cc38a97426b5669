// Test helpers for the host layer and its users (the probe's and the port
// safety tests): owned descriptors, loopback sockets on ports the kernel
// picks, fixture /proc trees in temp directories.
// Not thread-safe; for tests only.
#ifndef PORTLEASE_COMMON_HOST_HOST_TEST_UTIL_H_
#define PORTLEASE_COMMON_HOST_HOST_TEST_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/host/socket_table.h"
#include "common/port/port.h"

namespace portlease {
namespace testing_util {

// Owns a file descriptor; closes it on destruction.
class ScopedFd {
 public:
  ScopedFd() = default;
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(ScopedFd&& other) noexcept : fd_(other.release()) {}
  ScopedFd& operator=(ScopedFd&& other) noexcept;
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() { reset(); }

  int get() const { return fd_; }
  int release();
  void reset();

 private:
  int fd_ = -1;
};

struct SocketSpec {
  // SOCK_STREAM or SOCK_DGRAM.
  int type = 0;
  // Numeric address: "127.0.0.1", "0.0.0.0", "::", "::1".
  std::string address;
  // 0 lets the kernel pick.
  Port port = 0;
  // For IPv6 addresses: IPV6_V6ONLY.
  bool v6only = true;
  bool reuse_address = false;
  bool listen = false;
};

// A socket bound (and listening) as `spec` says.
absl::StatusOr<ScopedFd> OpenSocket(const SocketSpec& spec);

// The local port of a bound socket; 0 on error.
Port LocalPort(int fd);

// Connects a TCP socket to 127.0.0.1:`port`, optionally from 127.0.0.1:
// `from_port` (with SO_REUSEADDR), within `timeout`.
absl::StatusOr<ScopedFd> ConnectLoopback(Port port, Port from_port,
                                         absl::Duration timeout);

// Sets SO_LINGER {1, 0} so that close() sends a RST and leaves no TIME_WAIT.
bool SetLingerZero(int fd);

// The number of open descriptors of this process (/proc/self/fd).
int CountOpenFds();

// The socket inode of descriptor `fd`.
uint64_t SocketInode(int fd);

// Entries of the live socket tables with local port `port`.
std::vector<SocketEntry> LiveEntries(Port port, bool udp);

// Writes `content` to `root`/`relative`, creating parent directories.
bool WriteFixture(const std::string& root, const std::string& relative,
                  absl::string_view content);

}  // namespace testing_util
}  // namespace portlease

#endif  // PORTLEASE_COMMON_HOST_HOST_TEST_UTIL_H_
