// Support for the port-safety tests: an in-process portlease server that
// probes the real host (SystemProber) over a pool of ports the test picks,
// foreign sockets holding a port in every way the prober must notice, and
// bounded polling.
//
// Not thread-safe; for tests only.
#ifndef PORTLEASE_TESTS_PORTSAFETY_PORTSAFETY_SUPPORT_H_
#define PORTLEASE_TESTS_PORTSAFETY_PORTSAFETY_SUPPORT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "portlease/client.h"
#include "server/core/clock.h"
#include "server/core/lease_manager.h"
#include "common/host/host_test_util.h"
#include "server/probe/system_prober.h"
#include "server/service/server.h"
#include "server/store/memory_lease_store.h"
#include "testing/temp_dir.h"

namespace portlease::portsafety {

// Timings short enough for tests, long enough to observe.
inline constexpr absl::Duration kCooldown = absl::Milliseconds(300);
inline constexpr absl::Duration kBusyBackoff = absl::Milliseconds(200);
inline constexpr absl::Duration kDrainProbe = absl::Milliseconds(100);

// A directory for the test's sockets and files, removed with its content
// on destruction.
using ScratchDir = testing::TempDir;

// An in-process portlease server on a Unix socket: real clock, memory
// store, SystemProber on /proc, and a LeaseManager built from options
// directly (so a pool inside the ephemeral range is accepted), with the
// short timings above. Aborts the test binary if it cannot start.
class ProbingServer {
 public:
  // `pool`: the ports to lease, each range LO..HI.
  explicit ProbingServer(std::vector<PortRange> pool);
  ~ProbingServer();
  ProbingServer(const ProbingServer&) = delete;
  ProbingServer& operator=(const ProbingServer&) = delete;

  const std::string& address() const { return address_; }
  Client& client() { return *client_; }
  LeaseManager& manager() { return *manager_; }
  // The events the manager emitted so far, as "name port" lines.
  std::vector<std::string> Events();

 private:
  ScratchDir dir_;
  RealClock clock_;
  MemoryLeaseStore store_;
  SystemProber prober_;
  absl::Mutex events_mu_;
  std::vector<std::string> events_ ABSL_GUARDED_BY(events_mu_);
  std::unique_ptr<LeaseManager> manager_;
  std::unique_ptr<RunningServer> server_;
  std::string address_;
  std::unique_ptr<Client> client_;
};

// Acquire of one unnamed port with a short TTL.
absl::StatusOr<v1::Lease> AcquireOne(Client& client, bool udp);

// Tries to acquire one port every 20 ms for `span`; returns the first
// lease granted (the test should fail), or the last error.
absl::StatusOr<v1::Lease> AcquireRepeatedly(Client& client, bool udp,
                                            absl::Duration span);

// Polls Acquire until a lease is granted or `timeout` (times the build's
// time factor) passes.
absl::StatusOr<v1::Lease> AcquireWithin(Client& client, bool udp,
                                        absl::Duration timeout);

// A port some socket of this process holds, however it holds it, and how
// to let go of it.
struct ForeignHolder {
  Port port = 0;
  std::vector<testing_util::ScopedFd> fds;
  // Lets go of the port (closes, or retires a TIME_WAIT). Empty: closing
  // `fds` is enough.
  std::function<absl::Status(ForeignHolder*)> release;
};

// Kinds of holder. Each binds `port`, a port the test leased from the
// suite's portleased (tests/support/test_ports.h), so that once the holder
// lets go nobody else takes it (as an ephemeral port could be, by any
// outgoing connection on the host), and returns it in `port`.
absl::StatusOr<ForeignHolder> ListenOnLoopback(Port port);
absl::StatusOr<ForeignHolder> ListenOnAnyV4(Port port);
// [::] with IPV6_V6ONLY=0: one socket for both families. UNIMPLEMENTED
// when the host has no IPv6.
absl::StatusOr<ForeignHolder> ListenDualStack(Port port);
// A UDP socket on 127.0.0.1 only; nothing uses the port for TCP
// (FAILED_PRECONDITION when something does).
absl::StatusOr<ForeignHolder> UdpOnly(Port port);
// A TCP socket bound to 127.0.0.1, neither listening nor connected: in no
// socket table, found only by the bind probe.
absl::StatusOr<ForeignHolder> BoundNotListening(Port port);
// The same with SO_REUSEADDR set, which lets other SO_REUSEADDR sockets bind
// the port too (until one of them listens).
absl::StatusOr<ForeignHolder> BoundNotListeningReuseAddress(Port port);
// A TCP connection on 127.0.0.1 that was closed, leaving a TIME_WAIT on the
// port and no socket of this process; `release` retires the TIME_WAIT (it
// would otherwise last 60 s). The connection's client end is `port` + 1,
// so the test leases two ports.
absl::StatusOr<ForeignHolder> TimeWait(Port port);

// Lets go of `holder`'s port.
absl::Status Release(ForeignHolder* holder);

}  // namespace portlease::portsafety

#endif  // PORTLEASE_TESTS_PORTSAFETY_PORTSAFETY_SUPPORT_H_
