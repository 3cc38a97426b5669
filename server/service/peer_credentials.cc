#include "server/service/peer_credentials.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grpcpp/server_posix.h"
#include "server/core/principal.h"

namespace portlease {
namespace {

// Decodes %XX escapes (gRPC's peer strings are URIs); others stay as is.
std::string PercentDecode(absl::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    int value = 0;
    if (in[i] == '%' && i + 2 < in.size() &&
        absl::SimpleHexAtoi(in.substr(i + 1, 2), &value)) {
      out.push_back(static_cast<char>(value));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

absl::Status OsError(absl::string_view what, const std::string& path,
                     int error) {
  return absl::UnavailableError(absl::StrCat("cannot listen on unix:", path,
                                             ": cannot ", what, " the socket: ",
                                             std::strerror(error)));
}

}  // namespace

Metadata PeerIdentity::OwnerEntries() const {
  Metadata out;
  if (credentials.has_value()) {
    out["peer_uid"] = absl::StrCat(credentials->uid);
    out["peer_pid"] = absl::StrCat(credentials->pid);
    out["peer_user"] = credentials->user;
  } else if (!address.empty()) {
    out["peer_addr"] = address;
  }
  return out;
}

void PeerRegistry::Set(int fd, PeerCredentials credentials) {
  absl::MutexLock lock(&mu_);
  by_fd_[fd] = std::move(credentials);
}

std::optional<PeerCredentials> PeerRegistry::Find(
    absl::string_view grpc_peer) const {
  int fd = -1;
  if (!absl::ConsumePrefix(&grpc_peer, "fd:") ||
      !absl::SimpleAtoi(grpc_peer, &fd)) {
    return std::nullopt;
  }
  absl::MutexLock lock(&mu_);
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return std::nullopt;
  return it->second;
}

PeerIdentity Identify(const PeerRegistry& peers, absl::string_view grpc_peer) {
  PeerIdentity who;
  who.credentials = peers.Find(grpc_peer);
  if (who.credentials.has_value()) {
    who.key = absl::StrCat("uid:", who.credentials->uid,
                           ",pid:", who.credentials->pid);
    who.principal = UidPrincipal(who.credentials->uid);
    return who;
  }
  absl::string_view rest = grpc_peer;
  if (absl::ConsumePrefix(&rest, "ipv4:") ||
      absl::ConsumePrefix(&rest, "ipv6:")) {
    // "1.2.3.4:567" or "%5B::1%5D:567" (gRPC escapes the brackets): drop
    // the port and the brackets, keep the address as written by hand.
    const size_t colon = rest.rfind(':');
    if (colon != absl::string_view::npos) rest = rest.substr(0, colon);
    std::string address = PercentDecode(rest);
    absl::string_view bare = address;
    if (absl::ConsumePrefix(&bare, "[")) absl::ConsumeSuffix(&bare, "]");
    who.address = std::string(bare);
    who.key = absl::StrCat("addr:", who.address);
    who.principal = AddressPrincipal(who.address);
    return who;
  }
  who.key = std::string(grpc_peer);
  who.principal = absl::StrCat("peer:", grpc_peer);
  return who;
}

absl::StatusOr<PeerCredentials> ReadPeerCredentials(int fd, UserNames* names) {
  struct ucred cred;
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
      len != sizeof(cred)) {
    return absl::UnavailableError(absl::StrCat(
        "cannot read the peer's credentials: ", std::strerror(errno)));
  }
  PeerCredentials out;
  out.pid = cred.pid;
  out.uid = cred.uid;
  out.gid = cred.gid;
  out.user = names->Get(cred.uid, absl::Now());
  return out;
}

absl::StatusOr<std::unique_ptr<UnixCredentialsListener>>
UnixCredentialsListener::Listen(const Options& options, PeerRegistry* peers) {
  const std::string& path = options.path;
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad Unix socket path '", path, "'"));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(absl::StrCat(
        "cannot listen on unix:", path, ": directory ", dir,
        " does not exist"));
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return OsError("create", path, errno);
  // A stale socket file from an earlier run (the caller holds the lock).
  if (lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    unlink(path.c_str());
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int error = errno;
    close(fd);
    return OsError("bind", path, error);
  }
  auto fail = [&](absl::string_view what) {
    const int error = errno;
    close(fd);
    unlink(path.c_str());
    return OsError(what, path, error);
  };
  if (chmod(path.c_str(), options.mode) != 0) return fail("chmod");
  if (options.group != static_cast<gid_t>(-1) &&
      chown(path.c_str(), static_cast<uid_t>(-1), options.group) != 0) {
    return fail("chgrp");
  }
  if (listen(fd, 128) != 0) return fail("listen on");
  std::unique_ptr<UnixCredentialsListener> listener(
      new UnixCredentialsListener(path, fd, peers, options.max_connections));
  if (pipe2(listener->wake_, O_CLOEXEC) != 0) return fail("set up");
  return listener;
}

UnixCredentialsListener::UnixCredentialsListener(std::string path, int fd,
                                                 PeerRegistry* peers,
                                                 uint32_t max_connections)
    : path_(std::move(path)),
      listen_fd_(fd),
      peers_(peers),
      max_connections_(max_connections) {}

bool UnixCredentialsListener::AdmitConnection(int fd) {
  if (max_connections_ == 0) return true;
  struct stat st;
  if (fstat(fd, &st) != 0) return false;
  open_.erase(fd);  // a reused number: its old connection is closed
  if (open_.size() >= max_connections_) {
    // At the cap: forget the connections gRPC has closed since (at most
    // max_connections_ fstat calls, only while at the cap).
    for (auto it = open_.begin(); it != open_.end();) {
      struct stat now;
      const bool gone = fstat(it->first, &now) != 0 || now.st_ino != it->second;
      if (gone) {
        open_.erase(it++);
      } else {
        ++it;
      }
    }
    if (open_.size() >= max_connections_) return false;
  }
  open_[fd] = st.st_ino;
  return true;
}

UnixCredentialsListener::~UnixCredentialsListener() {
  Stop();
  if (wake_[0] >= 0) close(wake_[0]);
  if (wake_[1] >= 0) close(wake_[1]);
}

void UnixCredentialsListener::Start(grpc::Server* server) {
  thread_ = std::thread([this, server] { Run(server); });
}

void UnixCredentialsListener::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  const char byte = 0;
  ssize_t ignored = write(wake_[1], &byte, 1);
  (void)ignored;
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
  unlink(path_.c_str());
}

void UnixCredentialsListener::Run(grpc::Server* server) {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    // Bounded: the stop flag is checked at least once a second.
    const int ready = poll(fds, 2, 1000);
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) return;
    }
    if (ready <= 0 || (fds[0].revents & POLLIN) == 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr,
                           SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      // EMFILE and friends: back off a little instead of spinning.
      if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
        poll(nullptr, 0, 50);
      }
      continue;
    }
    if (!AdmitConnection(fd)) {
      // --max-connections: refused before it costs the server anything
      // more than this descriptor, for a moment.
      close(fd);
      continue;
    }
    absl::StatusOr<PeerCredentials> credentials =
        ReadPeerCredentials(fd, &names_);
    if (!credentials.ok()) {
      close(fd);
      continue;
    }
    peers_->Set(fd, *std::move(credentials));
    grpc::AddInsecureChannelFromFd(server, fd);
  }
}

}  // namespace portlease
