// The connection side of Client: one gRPC channel per server address, and
// what a Unix socket that cannot be used says about itself.
#ifndef PORTLEASE_CLIENT_LIB_CHANNEL_H_
#define PORTLEASE_CLIENT_LIB_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "grpcpp/channel.h"

namespace portlease {

// A channel to `address` that finds a restarted server within half a second.
// Its connection attempts only make progress while someone waits on the
// channel (a call, WaitForStateChange) or every 5 s (gRPC's backup poller).
// `detect_hung`: while a call or stream is open, HTTP/2 pings every
// kKeepaliveMs, and the connection is closed when one goes unanswered for
// as long (a stopped or frozen server), so that a Hold stream on it breaks
// and moves to another address within about a second, well within a hold
// grace. Servers from
// before they accepted such pings (server.cc) would end the connection
// after a few of them: only clients of several addresses set it.
inline constexpr int kKeepaliveMs = 500;
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           bool detect_hung = false);

// Why the Unix socket of `address` cannot be used, seen by a plain
// non-blocking connect(): UNAVAILABLE ("no socket at PATH", "connection
// refused at PATH (no server)", ...) or PERMISSION_DENIED; OK when it
// accepts connections or `address` is not a Unix socket.
absl::Status UnixSocketProblem(const std::string& address);

// PERMISSION_DENIED (naming the group to join) when this user may not
// connect to the Unix socket of `address`; checked with access(), which
// does not disturb the server.
absl::Status UnixSocketPermission(const std::string& address);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_LIB_CHANNEL_H_
