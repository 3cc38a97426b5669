// Listen addresses of the server: "unix:PATH" or "HOST:PORT" (HOST may be
// a name, an IPv4 address or a bracketed IPv6 address; PORT 0 picks a free
// port).
//
//   absl::StatusOr<ListenAddress> a = ParseListenAddress("127.0.0.1:0");
//   if (a.ok() && a->is_tcp() && !IsLoopbackHost(a->host)) ...
//
// Stateless functions: thread-safe.
#ifndef PORTLEASE_SERVER_SERVICE_LISTEN_ADDRESS_H_
#define PORTLEASE_SERVER_SERVICE_LISTEN_ADDRESS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace portlease {

struct ListenAddress {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  // kUnix: the socket's path.
  std::string path;
  // kTcp: host as written (IPv6 with brackets) and port.
  std::string host;
  uint16_t port = 0;

  bool is_tcp() const { return kind == Kind::kTcp; }
  // The address as gRPC reads it: "unix:PATH" or "HOST:PORT".
  std::string ToString() const;
};

// INVALID_ARGUMENT naming the address when it is neither form, the path is
// empty or longer than a Unix socket path can be, or the port is not
// 0..65535.
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text);

// True for "localhost", 127.0.0.0/8 and ::1 (bracketed or not).
bool IsLoopbackHost(absl::string_view host);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_SERVICE_LISTEN_ADDRESS_H_
