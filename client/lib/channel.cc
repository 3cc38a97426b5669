#include "lib/channel.h"

#include <errno.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace portlease {
namespace {

// A restarted server is found within this long (gRPC's default backoff
// grows to two minutes).
constexpr int kMaxReconnectBackoffMs = 500;

// How long one connection attempt may take (gRPC reads its minimum connect
// timeout from GRPC_ARG_MIN_RECONNECT_BACKOFF_MS). With the backoff's own
// 100-500 ms, a loaded host whose handshake takes longer than that never
// got through; a refused connection (no server yet) still fails at once
// and is retried after the backoff.
constexpr int kMinConnectTimeoutMs = 5000;

}  // namespace

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           bool detect_hung) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kMinConnectTimeoutMs);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  if (detect_hung) {
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveMs);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveMs);
    // An open Hold stream sends no data: keep pinging all the same.
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    args.SetInt(GRPC_ARG_HTTP2_MIN_SENT_PING_INTERVAL_WITHOUT_DATA_MS,
                kKeepaliveMs);
  }
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

absl::Status UnixSocketProblem(const std::string& address) {
  if (!absl::StartsWith(address, "unix:")) return absl::OkStatus();
  const std::string path = address.substr(5);
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return absl::OkStatus();
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::OkStatus();
  const int rc =
      connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int error = rc == 0 ? 0 : errno;
  close(fd);
  switch (error) {
    case 0:
      return absl::OkStatus();
    case ENOENT:
    case ENOTDIR:
      return absl::UnavailableError(absl::StrCat("no socket at ", path));
    case ECONNREFUSED:
      return absl::UnavailableError(
          absl::StrCat("connection refused at ", path, " (no server)"));
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(
          absl::StrCat("permission denied connecting to ", path));
    case EAGAIN:
      return absl::UnavailableError(
          absl::StrCat(path, ": the server does not accept connections"));
    default:
      return absl::UnavailableError(
          absl::StrCat("connect to ", path, ": ", std::strerror(error)));
  }
}

absl::Status UnixSocketPermission(const std::string& address) {
  if (!absl::StartsWith(address, "unix:")) return absl::OkStatus();
  const std::string path = address.substr(5);
  if (access(path.c_str(), R_OK | W_OK) != 0 && errno == EACCES) {
    std::string fix = "ask the socket's owner for access";
    struct stat st;
    if (stat(path.c_str(), &st) == 0) {
      if (const struct group* g = getgrgid(st.st_gid); g != nullptr) {
        fix = absl::StrCat("join its group ", g->gr_name, " (usermod -aG ",
                           g->gr_name, " $USER, then log in again)");
      }
    }
    return absl::PermissionDeniedError(
        absl::StrCat("permission denied connecting to ", path, ": ", fix));
  }
  return absl::OkStatus();
}

}  // namespace portlease
