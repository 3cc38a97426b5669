// PortserverLeases: Google's portserver protocol over the lease core. A
// portpicker client (portpicker.pick_unused_port() with PORTSERVER_ADDRESS
// set) sends its pid; the answer is one port, leased through
// LeaseManager::Acquire like any other lease (probed, claimed host-wide,
// stored, listed), for as long as that process runs, at most `ttl`.
//
//   ProcProcessTable processes;
//   PortserverLeasesOptions options;
//   options.manager = manager;
//   options.processes = &processes;
//   PortserverLeases leases(options);
//   absl::StatusOr<Port> port = leases.Grant("4242\n", peer);
//   ...
//   leases.ReleaseExited();  // every second: ends the leases of dead pids
//
// A lease is marked by its owner keys (kOwnerClient and the others below),
// so after a restart the stored leases are found and watched again without
// any state of this class.
//
// Thread-safe (the manager and the process table are).
#ifndef PORTLEASE_SERVER_PORTSERVER_PORTSERVER_LEASES_H_
#define PORTLEASE_SERVER_PORTSERVER_PORTSERVER_LEASES_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/core/lease.h"
#include "server/core/lease_backend.h"
#include "server/portserver/process_table.h"

namespace portlease {

// The owner metadata of a portserver lease: client=portserver, pid and
// pid_start (the process the lease lives with), user, host and command (as
// lease-run records them), and the connection's peer_uid, peer_pid and
// peer_user (as the gRPC service records them).
inline constexpr char kOwnerClient[] = "client";
inline constexpr char kPortserverClient[] = "portserver";

// Who is at the other end of the connection (SO_PEERCRED).
struct PortserverPeer {
  pid_t pid = 0;
  uid_t uid = 0;
};

struct PortserverLeasesOptions {
  LeaseBackend* manager = nullptr;    // required
  ProcessTable* processes = nullptr;  // required
  // Each lease's time to live: it ends then even if its process runs.
  absl::Duration ttl = absl::Hours(24);
  // Recorded as the owner's host.
  std::string host;
};

// The pid of a request as Google's portserver reads it: at most 20 bytes
// (the newline included), surrounding whitespace ignored, an optional sign,
// decimal digits (single underscores between them allowed, as Python's
// int() does). INVALID_ARGUMENT otherwise, and for a pid that is not
// positive or does not fit a pid_t.
absl::StatusOr<pid_t> ParsePidRequest(absl::string_view request);

class PortserverLeases {
 public:
  explicit PortserverLeases(PortserverLeasesOptions options);

  // The port for one request, leased to the process whose pid the request
  // names. Refused: INVALID_ARGUMENT (not a pid, pid 1: a client reparented
  // to init meant its parent), NOT_FOUND (no such process, or it exited),
  // PERMISSION_DENIED (the process is another user's, unless the peer is
  // root), and the manager's errors (RESOURCE_EXHAUSTED, UNAVAILABLE...).
  absl::StatusOr<Port> Grant(absl::string_view request,
                             const PortserverPeer& peer);

  // Releases every live portserver lease whose process is gone (pid and
  // start time, so a reused pid does not keep it). Returns how many were
  // released; a release the store refuses is tried again next time.
  int ReleaseExited();

 private:
  const PortserverLeasesOptions options_;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_PORTSERVER_PORTSERVER_LEASES_H_
