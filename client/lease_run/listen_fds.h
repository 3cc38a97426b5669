// lease-run --listen-fds: the leased ports as listening sockets, handed to
// the command by systemd's socket-activation protocol (sd_listen_fds(3)).
//
//   absl::StatusOr<ListenAddress> host = ParseListenHost("127.0.0.1");
//   absl::StatusOr<ListenSockets> sockets =
//       ListenSockets::Bind(*host, {{"web", 20000}});
//   // the command gets fd 3 = the socket listening on 127.0.0.1:20000,
//   // LISTEN_FDS=1, LISTEN_FDNAMES=web and LISTEN_PID=its own pid:
//   RunUnderLease(ListenFdsCommand(command), vars + ListenFdsVariables(...),
//                 ..., sockets->TakeFds());
//
// The sockets are bound and listening from Bind until the command has
// them: nothing is closed in between, so no other process can take a port.
#ifndef PORTLEASE_CLIENT_LEASE_RUN_LISTEN_FDS_H_
#define PORTLEASE_CLIENT_LEASE_RUN_LISTEN_FDS_H_

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "lease_run/lease_run.h"
#include "lease_run/lease_session.h"
#include "portlease/lease_env.h"
#include "portlease/scoped_lease.h"

namespace portlease {

// The default of --listen-host.
inline constexpr char kDefaultListenHost[] = "127.0.0.1";

// A literal IPv4 or IPv6 address (port 0), as --listen-host gives it.
struct ListenAddress {
  sockaddr_storage address = {};
  socklen_t length = 0;
  std::string text;  // as given
};

// "127.0.0.1", "0.0.0.0", "::", "::1", "[::1]", any literal address.
// INVALID_ARGUMENT ("--listen-host x: want a literal IPv4 or IPv6
// address") for anything else, host names included.
absl::StatusOr<ListenAddress> ParseListenHost(const std::string& text);

// A port to bind: its name for LISTEN_FDNAMES and its number.
struct NamedPort {
  std::string name;
  uint16_t port = 0;
};

// The names in LISTEN_FDNAMES: a port's name, or p<i> (p0, p1, ...) for
// the unnamed ports of --count.
std::string ListenFdName(const std::string& port_name, size_t index);

// LISTEN_FDS and LISTEN_FDNAMES for `ports` (LISTEN_PID is set by
// ListenFdsCommand in the command's own process).
Variables ListenFdsVariables(const std::vector<NamedPort>& ports);

// `command` behind a one-line exec step, /bin/sh -c 'LISTEN_PID=$$ ...
// exec "$@"', which sets LISTEN_PID to the pid the command will have and
// execs it in place (same pid, same fds, same argv).
std::vector<std::string> ListenFdsCommand(
    const std::vector<std::string>& command);

// OK when `name` (argv[0]: a path, or a name searched on PATH) is an
// executable file; NOT_FOUND / PERMISSION_DENIED ("cannot run NAME: ...")
// otherwise, the errors SpawnChild would give without the exec step.
absl::Status CheckCommandRunnable(const std::string& name);

// Sockets bound (TCP: and listening, SO_REUSEADDR, backlog SOMAXCONN) on
// the leased ports, all close-on-exec. Closes what it still owns on
// destruction. Movable, not copyable. Not thread-safe.
class ListenSockets {
 public:
  // Binds every port of `ports` on `host`, in order. On the first failure
  // closes the sockets made so far and returns UNAVAILABLE for
  // EADDRINUSE, FAILED_PRECONDITION otherwise, with a one-line message
  // naming the address and the port ("cannot bind 127.0.0.1:20000 (port
  // web): Address already in use").
  static absl::StatusOr<ListenSockets> Bind(
      const ListenAddress& host, const std::vector<NamedPort>& ports);

  ListenSockets(ListenSockets&& other) noexcept
      : fds_(std::exchange(other.fds_, {})) {}
  ListenSockets& operator=(ListenSockets&& other) noexcept;
  ListenSockets(const ListenSockets&) = delete;
  ListenSockets& operator=(const ListenSockets&) = delete;
  ~ListenSockets();

  // The sockets, in the order of the ports; the caller closes them.
  std::vector<int> TakeFds() { return std::exchange(fds_, {}); }

 private:
  ListenSockets() = default;
  void CloseAll();
  std::vector<int> fds_;
};

// The flags' rules: --listen-host needs --listen-fds, which goes with the
// default mode only (no --detach, --release-env-file,
// --ctest-resource-spec) and not with --udp (the protocol would have two
// sockets per name). INVALID_ARGUMENT with one line.
absl::Status CheckListenFdsFlags(const LeaseRunOptions& options);

// What RunCommand starts with --listen-fds: `lease`'s ports bound on
// options.listen_host, their variables added to *vars, the command behind
// the exec step in *command and the sockets in *fds (for RunUnderLease).
// Fails with a one-line message naming the port: kExitTempFail when the
// port is in use, 1 when the address cannot be bound; and as SpawnChild
// would (kExitNotFound, kExitCannotExecute) when the command cannot run.
std::optional<Failure> PrepareListenFds(const LeaseRunOptions& options,
                                        const ScopedLease& lease,
                                        Variables* vars,
                                        std::vector<std::string>* command,
                                        std::vector<int>* fds);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_LEASE_RUN_LISTEN_FDS_H_
