// Who is calling: the kernel-checked credentials (SO_PEERCRED) of Unix
// socket callers, and the address of TCP callers.
//
// gRPC does not expose SO_PEERCRED, so portleased accepts Unix socket
// connections itself (UnixCredentialsListener), reads the peer's
// credentials, records them in a PeerRegistry under the peer string gRPC
// gives calls on that connection ("fd:N"), and hands the connection to the
// grpc::Server with grpc::AddInsecureChannelFromFd. Handlers then map
// ServerContext::peer() back to the credentials with Identify().
//
//   PeerRegistry peers;
//   auto listener = UnixCredentialsListener::Listen(
//       {.path = "/run/portlease/portleased.sock", .mode = 0660}, &peers);
//   ... build and start the grpc::Server ...
//   (*listener)->Start(server.get());
//   PeerIdentity who = Identify(peers, context->peer());
//   // who.uid, who.pid, who.user; who.key == "uid:1000,pid:42"
#ifndef PORTLEASE_SERVER_SERVICE_PEER_CREDENTIALS_H_
#define PORTLEASE_SERVER_SERVICE_PEER_CREDENTIALS_H_

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/system/user_names.h"
#include "grpcpp/server.h"
#include "server/core/lease.h"

namespace portlease {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  // The uid's user name, or the uid in decimal when it has none.
  std::string user;
};

// What the server knows of a caller.
struct PeerIdentity {
  // Unix socket callers seen by UnixCredentialsListener.
  std::optional<PeerCredentials> credentials;
  // TCP callers: the IP address, without the port, unescaped and without
  // brackets ("127.0.0.1", "::1").
  std::string address;
  // Rate limits count callers by this: "uid:U,pid:P" (per process: on a
  // CI host every job usually runs as the same user), "addr:A", or gRPC's
  // peer string when neither is known.
  std::string key;
  // Who the caller is, for the lease rules (principal.h): "uid:U",
  // "addr:A" (AddressPrincipal) or "peer:<gRPC peer>". PrincipalOf
  // (caller_identity.h) prefers an mTLS client certificate's name.
  std::string principal;

  // The owner metadata the server records for this caller: peer_uid,
  // peer_pid and peer_user, or peer_addr.
  Metadata OwnerEntries() const;
};

// Credentials of the connections accepted by UnixCredentialsListener, by
// gRPC peer string ("fd:N"). A connection's entry is replaced when a later
// connection reuses its descriptor number. Thread-safe.
class PeerRegistry {
 public:
  void Set(int fd, PeerCredentials credentials);
  std::optional<PeerCredentials> Find(absl::string_view grpc_peer) const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<int, PeerCredentials> by_fd_ ABSL_GUARDED_BY(mu_);
};

// The caller of an RPC whose ServerContext::peer() is `grpc_peer`
// ("fd:N", "ipv4:1.2.3.4:567", "ipv6:[::1]:567", "unix:...").
PeerIdentity Identify(const PeerRegistry& peers, absl::string_view grpc_peer);

// The credentials of the process at the other end of a Unix socket, with
// the user name resolved through `names`. UNAVAILABLE when the kernel does
// not say.
absl::StatusOr<PeerCredentials> ReadPeerCredentials(int fd, UserNames* names);

// A listening Unix socket whose connections are handed to a grpc::Server
// after their credentials are recorded. Thread-safe.
class UnixCredentialsListener {
 public:
  struct Options {
    std::string path;
    // Permissions of the socket file, set right after bind.
    mode_t mode = 0660;
    // Group of the socket file; -1 keeps the process's group.
    gid_t group = static_cast<gid_t>(-1);
    // Most connections handed to the server and still open at once; a
    // connection beyond it is accepted and closed at once (the client sees
    // UNAVAILABLE and retries). 0: no limit.
    uint32_t max_connections = 0;
  };

  // Binds and listens on options.path; an existing socket file there is
  // replaced (the caller holds the socket's lock file). NOT_FOUND when the
  // directory does not exist; UNAVAILABLE naming the path and the OS error
  // otherwise.
  static absl::StatusOr<std::unique_ptr<UnixCredentialsListener>> Listen(
      const Options& options, PeerRegistry* peers);

  ~UnixCredentialsListener();  // Stop()
  UnixCredentialsListener(const UnixCredentialsListener&) = delete;
  UnixCredentialsListener& operator=(const UnixCredentialsListener&) = delete;

  const std::string& path() const { return path_; }

  // Starts accepting; connections go to `server`, which must be started and
  // outlive Stop(). Call once.
  void Start(grpc::Server* server);

  // Stops accepting, closes the socket and removes its file. Connections
  // already handed over stay with the server. Idempotent.
  void Stop();

 private:
  UnixCredentialsListener(std::string path, int fd, PeerRegistry* peers,
                          uint32_t max_connections);
  void Run(grpc::Server* server);
  // Whether the connection just accepted as `fd` fits under
  // max_connections_; if so it is counted. Called by Run's thread only.
  bool AdmitConnection(int fd);

  const std::string path_;
  const int listen_fd_;
  PeerRegistry* const peers_;
  const uint32_t max_connections_;
  // Connections handed over and maybe still open: descriptor -> socket
  // inode. gRPC closes them without telling; an entry whose descriptor is
  // closed or now names another inode is gone. Run's thread only.
  absl::flat_hash_map<int, ino_t> open_;
  UserNames names_;  // Run's thread only
  int wake_[2] = {-1, -1};  // a pipe: Stop() writes to end the accept loop
  std::thread thread_;
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_SERVICE_PEER_CREDENTIALS_H_
