// StartServer: a running portlease gRPC server. Owns the grpc::Server, the
// PortLeaseService, the standard health service (grpc.health.v1, "" is
// SERVING while up), server reflection, and the Ticker driving the lease
// manager's housekeeping. Used by portleased's main() and by in-process
// tests.
//
//   ServerOptions options;
//   options.listen = {"unix:/tmp/x/portleased.sock", "127.0.0.1:0"};
//   options.service = {.manager = manager.get(), .clock = &clock};
//   absl::StatusOr<std::unique_ptr<RunningServer>> server =
//       StartServer(std::move(options));
//   // (*server)->addresses(): {"unix:/tmp/x/portleased.sock",
//   //                          "127.0.0.1:41234"}
//   (*server)->Shutdown(absl::Seconds(5));
//
// SO_REUSEPORT is off: an address already bound by anyone fails the start.
//
// Unix sockets are served through UnixCredentialsListener, so every call
// knows its caller's uid and pid (peer_credentials.h). TCP listeners on
// addresses other than loopback need TLS or allow_insecure_tcp. Every call
// is counted against the caller's rate limit.
#ifndef PORTLEASE_SERVER_SERVICE_SERVER_H_
#define PORTLEASE_SERVER_SERVICE_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "server/service/idle_tracker.h"
#include "server/service/listen_address.h"
#include "server/service/peer_credentials.h"
#include "server/service/port_lease_service.h"
#include "server/service/rate_limiter.h"
#include "server/service/ticker.h"

namespace portlease {

struct ServerOptions {
  // At least one; see listen_address.h. The parent directory of a Unix
  // socket must exist; an existing socket file at the path is replaced.
  std::vector<std::string> listen;
  // The service's manager, clock, holder lookup and version.
  PortLeaseServiceOptions service;
  // How often LeaseBackend::Tick runs.
  absl::Duration tick_interval = absl::Milliseconds(100);
  // Permissions of Unix sockets, set right after they are bound.
  mode_t unix_socket_mode = 0660;
  // Group of Unix sockets; -1 keeps the process's group.
  gid_t unix_socket_group = static_cast<gid_t>(-1);
  // TLS for TCP listeners, as PEM text. Without cert_chain, TCP is
  // plaintext. With client_ca, clients must present a certificate it signed
  // (mutual TLS).
  struct Tls {
    std::string cert_chain;
    std::string private_key;
    std::string client_ca;
  };
  Tls tls;
  // Allow plaintext TCP on addresses other than loopback (no TLS): anyone
  // who can reach the port can take every port and read every lease.
  bool allow_insecure_tcp = false;
  // Largest request message accepted; larger ones fail RESOURCE_EXHAUSTED.
  int max_receive_message_bytes = 64 * 1024;
  // Requests per second per caller (by uid and pid for Unix sockets, by
  // address for TCP). Every message of a Hold stream counts as one.
  RateLimit rate_limit;
  // Most open connections per Unix socket listener; more are closed as
  // they arrive (UnixCredentialsListener::Options). 0: no limit. gRPC 1.51
  // has no such bound for its own TCP listeners.
  uint32_t max_connections = 0;
  // Most concurrent calls (HTTP/2 streams) per connection; a client queues
  // the calls beyond it. 0: gRPC's default (no limit).
  uint32_t max_streams = 0;
  // Told when each RPC starts and ends (Hold streams and health checks
  // included); unset: nobody. Must outlive the server.
  IdleTracker* idle_tracker = nullptr;
};

// OK unless `address` is TCP on an address other than loopback while
// neither TLS is configured nor plaintext allowed (INVALID_ARGUMENT, saying
// how to fix it).
absl::Status CheckTransportSecurity(const ListenAddress& address, bool tls,
                                    bool allow_insecure_tcp);

// Thread-safe.
class RunningServer {
 public:
  ~RunningServer();  // Shutdown(absl::ZeroDuration()) unless done already.
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;

  // The addresses being served, in ServerOptions::listen order, as clients
  // dial them: "unix:PATH", or "HOST:PORT" with the port actually bound.
  const std::vector<std::string>& addresses() const { return addresses_; }

  // Marks the health service NOT_SERVING, stops accepting RPCs, lets
  // running ones finish for up to `grace` then cancels them (Hold streams,
  // waiting Acquires), stops the ticker and removes the Unix socket files.
  // Idempotent; returns once everything has stopped.
  void Shutdown(absl::Duration grace);

  // Blocks until Shutdown has been called and has finished.
  void Wait();

 private:
  friend absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(
      ServerOptions options);
  explicit RunningServer(ServerOptions options);

  PeerRegistry peers_;
  std::unique_ptr<RateLimiter> rate_limiter_;
  std::vector<std::unique_ptr<UnixCredentialsListener>> unix_listeners_;
  std::unique_ptr<PortLeaseService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Ticker> ticker_;
  std::vector<std::string> addresses_;

  absl::Mutex mu_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

// Starts serving. Errors: INVALID_ARGUMENT for a malformed address or no
// address, missing manager/clock, or a TCP address refused by
// CheckTransportSecurity; NOT_FOUND when a Unix socket's
// directory does not exist; UNAVAILABLE naming the address that could not
// be bound (in use, not permitted, no such host). Nothing is left running
// on error.
absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(
    ServerOptions options);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_SERVICE_SERVER_H_
