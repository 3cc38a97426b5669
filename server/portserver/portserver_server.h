// PortserverServer: serves Google's portserver protocol on Unix stream
// sockets, for portleased's --portserver-listen. Each connection is one
// request: the client sends its pid and a newline, and reads one port and
// a newline (PortserverLeases::Grant), or nothing at all when refused
// (the connection is closed without data, as Google's portserver does).
// A thread releases the leases of exited processes every check_interval.
//
//   PortserverServerOptions options;
//   options.listen = {"@portserver-1000", "/run/portlease/portserver.sock"};
//   options.leases.manager = manager;
//   options.leases.processes = &processes;
//   absl::StatusOr<std::unique_ptr<PortserverServer>> server =
//       PortserverServer::Start(std::move(options));
//   ...
//   (*server)->Stop();
//
// An address "@NAME" is NAME in Linux's abstract namespace (no file, no
// permissions: any process of the host's network namespace may connect;
// the uid check of Grant is what protects other users' processes);
// anything else is a filesystem path, made `mode` and `group` like
// portleased's gRPC sockets.
//
// Thread-safe.
#ifndef PORTLEASE_SERVER_PORTSERVER_PORTSERVER_SERVER_H_
#define PORTLEASE_SERVER_PORTSERVER_PORTSERVER_SERVER_H_

#include <sys/types.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/portserver/portserver_leases.h"

namespace portlease {

// "@NAME" (abstract) or a path. INVALID_ARGUMENT when empty, "@" alone, or
// longer than a Unix socket address holds (107 bytes).
absl::Status CheckPortserverAddress(absl::string_view address);

struct PortserverServerOptions {
  // The addresses to serve; see above.
  std::vector<std::string> listen;
  PortserverLeasesOptions leases;
  // Filesystem sockets: permissions and group (-1: the process's).
  mode_t mode = 0660;
  gid_t group = static_cast<gid_t>(-1);
  // How often the leases of exited processes are looked for.
  absl::Duration check_interval = absl::Seconds(1);
  // Longest wait for a request's bytes: a silent client is dropped then.
  absl::Duration read_timeout = absl::Seconds(2);
  // Connections served at once; more wait in the queue (at most
  // max_queued, beyond which they are closed at once).
  int workers = 16;
  size_t max_queued = 1024;
  // Around each connection (portleased's --idle-exit counts them); may be
  // empty.
  std::function<void()> on_request_started;
  std::function<void()> on_request_ended;
  // Each refused request, with why (the daemon logs it); may be empty.
  std::function<void(const absl::Status&)> on_refused;
};

class PortserverServer {
 public:
  // Binds every address and starts serving. An abstract address another
  // process serves already (EADDRINUSE) is skipped (see skipped()): a
  // second server of the same user must not fail for it. A path socket
  // that exists is replaced (the caller holds its lock). Errors:
  // INVALID_ARGUMENT (an address), UNAVAILABLE naming the address and the
  // OS error.
  static absl::StatusOr<std::unique_ptr<PortserverServer>> Start(
      PortserverServerOptions options);

  ~PortserverServer();  // Stop()
  PortserverServer(const PortserverServer&) = delete;
  PortserverServer& operator=(const PortserverServer&) = delete;

  // The addresses served, and those skipped because another process serves
  // them, as given.
  const std::vector<std::string>& addresses() const { return addresses_; }
  const std::vector<std::string>& skipped() const { return skipped_; }

  // Stops accepting, waits for the connections being served, closes and
  // removes the sockets. Leases stay. Idempotent.
  void Stop();

 private:
  explicit PortserverServer(PortserverServerOptions options);
  absl::Status Listen(const std::string& address);
  void Accept();
  void Work();
  void Check();
  void Serve(int fd);
  bool Stopped();

  const PortserverServerOptions options_;
  PortserverLeases leases_;
  std::vector<std::string> addresses_;
  std::vector<std::string> skipped_;
  std::vector<int> listen_fds_;
  std::vector<std::string> paths_;  // filesystem sockets to remove
  int wake_[2] = {-1, -1};          // Stop() writes to end the accept loop
  std::vector<std::thread> threads_;

  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<int> queue_ ABSL_GUARDED_BY(mu_);  // accepted, not yet served
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_PORTSERVER_PORTSERVER_SERVER_H_
