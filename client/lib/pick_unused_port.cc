#include "portlease/pick_unused_port.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace portlease {
namespace {

constexpr int kTimeoutSeconds = 10;
// An answer is "<port>\n"; anything longer is not one.
constexpr size_t kMaxAnswer = 64;

// "ADDRESS: what: strerror(err)" as UNAVAILABLE.
absl::Status Unavailable(absl::string_view address, absl::string_view what,
                         int err) {
  return absl::UnavailableError(absl::StrCat(
      "portserver ", address, ": ", what, ": ", std::strerror(err)));
}

// Writes all of `data`.
bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads up to a newline, end of file or kMaxAnswer bytes.
absl::StatusOr<std::string> ReadAnswer(int fd, absl::string_view address) {
  std::string answer;
  char buffer[kMaxAnswer];
  while (answer.size() < kMaxAnswer &&
         answer.find('\n') == std::string::npos) {
    const ssize_t n = recv(fd, buffer, kMaxAnswer - answer.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return absl::UnavailableError(absl::StrCat(
          "portserver ", address, ": no answer within ", kTimeoutSeconds,
          " seconds"));
    }
    if (n < 0) return Unavailable(address, "read", errno);
    if (n == 0) break;
    answer.append(buffer, static_cast<size_t>(n));
  }
  return answer;
}

}  // namespace

absl::StatusOr<uint16_t> PickUnusedPort(absl::string_view portserver_address,
                                        pid_t pid) {
  std::string address(portserver_address);
  if (address.empty()) {
    const char* from_env = std::getenv("PORTSERVER_ADDRESS");
    if (from_env != nullptr) address = from_env;
  }
  if (address.empty()) {
    return absl::NotFoundError(
        "no portserver configured: PORTSERVER_ADDRESS is not set (and no "
        "address was given)");
  }
  if (pid < 0) {
    return absl::InvalidArgumentError(absl::StrCat("pid ", pid, " < 0"));
  }
  if (pid == 0) pid = getpid();

  sockaddr_un sun = {};
  sun.sun_family = AF_UNIX;
  if (address.size() >= sizeof(sun.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "portserver address ", address, " is longer than a Unix socket's ",
        sizeof(sun.sun_path) - 1, " bytes"));
  }
  // "@name": the abstract namespace, a NUL first and no terminator.
  std::memcpy(sun.sun_path, address.data(), address.size());
  if (address[0] == '@') sun.sun_path[0] = '\0';
  const socklen_t length = static_cast<socklen_t>(
      offsetof(sockaddr_un, sun_path) + address.size() +
      (address[0] == '@' ? 0 : 1));

  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unavailable(address, "socket", errno);
  absl::Cleanup close_fd = [fd] { close(fd); };
  const timeval timeout = {kTimeoutSeconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&sun), length) != 0) {
    return Unavailable(address, "cannot connect", errno);
  }
  if (!WriteAll(fd, absl::StrCat(pid, "\n"))) {
    return Unavailable(address, "cannot send the request", errno);
  }
  absl::StatusOr<std::string> answer = ReadAnswer(fd, address);
  if (!answer.ok()) return answer.status();
  const absl::string_view text = absl::StripAsciiWhitespace(
      absl::string_view(*answer).substr(0, answer->find('\n')));
  uint32_t port = 0;
  if (text.empty() || text == "0") {
    return absl::NotFoundError(absl::StrCat(
        "portserver ", address, " had no port for pid ", pid));
  }
  if (!absl::SimpleAtoi(text, &port) || port == 0 || port > 65535) {
    return absl::UnavailableError(absl::StrCat(
        "portserver ", address, " answered \"", absl::CHexEscape(text),
        "\", not a port number"));
  }
  return static_cast<uint16_t>(port);
}

}  // namespace portlease
