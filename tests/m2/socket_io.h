// Blocking-with-deadline TCP helpers for the M2 stand-in services.
//
// Everything here binds or connects on loopback and every wait is bounded by
// an absl::Time deadline. Plain POSIX sockets, no event loop.
//
//   absl::StatusOr<Fd> listener = ListenLoopback(0);
//   absl::StatusOr<uint16_t> port = LocalPort(listener->get());
//   absl::StatusOr<Fd> conn = Connect({"127.0.0.1", *port}, absl::Seconds(1));
//   absl::Status st = WriteAll(conn->get(), "PING\n", deadline);
#ifndef PORTLEASE_TESTS_M2_SOCKET_IO_H_
#define PORTLEASE_TESTS_M2_SOCKET_IO_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tests/m2/config_file.h"

namespace portlease::m2 {

// Owns a file descriptor; closes it on destruction. Move-only.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();

  int get() const { return fd_; }
  int release();

 private:
  int fd_ = -1;
};

// A listening TCP socket on 127.0.0.1:`port` (0 picks a free port), with
// SO_REUSEADDR, without SO_REUSEPORT, non-blocking (see Accept). UNAVAILABLE
// when the bind fails (the message names the port, e.g. "address already in
// use").
absl::StatusOr<Fd> ListenLoopback(uint16_t port);

// The local port of a bound socket.
absl::StatusOr<uint16_t> LocalPort(int fd);

// Connects to `address` (resolved with getaddrinfo) within `timeout`.
// UNAVAILABLE naming the address on refusal, DEADLINE_EXCEEDED on timeout.
absl::StatusOr<Fd> Connect(const HostPort& address, absl::Duration timeout);

// Writes all of `data`. DEADLINE_EXCEEDED or UNAVAILABLE (peer gone).
absl::Status WriteAll(int fd, absl::string_view data, absl::Time deadline);

// Reads until the bytes read contain `terminator`, and returns all bytes
// read (possibly more than the terminator). RESOURCE_EXHAUSTED past
// `max_bytes`, UNAVAILABLE when the peer closes first, DEADLINE_EXCEEDED.
absl::StatusOr<std::string> ReadUntil(int fd, absl::string_view terminator,
                                      size_t max_bytes, absl::Time deadline);

// Reads exactly `n` bytes. UNAVAILABLE on early close, DEADLINE_EXCEEDED.
absl::StatusOr<std::string> ReadExactly(int fd, size_t n, absl::Time deadline);

// WaitReadable's results besides an index into `fds`.
inline constexpr int kWaitStopped = -1;   // `stop_fd` became readable.
inline constexpr int kWaitTimedOut = -2;  // The deadline passed.

// Waits until one of `fds` or `stop_fd` is readable or the deadline passes.
// Returns the index into `fds` of a readable one, kWaitStopped (checked
// first) or kWaitTimedOut. `stop_fd` may be -1 (none).
absl::StatusOr<int> WaitReadable(const std::vector<int>& fds, int stop_fd,
                                 absl::Time deadline);

// Accepts one pending connection from `listen_fd`. UNAVAILABLE when none is
// pending any more (e.g. the client gave up between poll and accept).
absl::StatusOr<Fd> Accept(int listen_fd);

}  // namespace portlease::m2

#endif  // PORTLEASE_TESTS_M2_SOCKET_IO_H_
