// Daemon: everything portleased runs, built from a checked DaemonConfig:
// the log, the store chain (SQLite -> DB.state recording -> timing), the
// prober, host-wide claims, the lease backend, the gRPC server and the
// metrics endpoint, and the portserver protocol's sockets.
//
// The backend is a LeaseManager over the store chain, or with --store=etcd
// an EtcdLeaseBackend over an etcd client (no store chain, no claims, no
// lost-state check: etcd keeps the state; the prober only on --pool-host).
//
//   const sigset_t stop = BlockStopSignals();
//   absl::StatusOr<std::unique_ptr<Daemon>> daemon = StartDaemon(config);
//   if (!daemon.ok()) return Fail(DaemonExitCode(daemon.status()), ...);
//   (*daemon)->AnnounceReady();
//   (*daemon)->Stop(WaitForStop(stop, (*daemon)->idle(), config.idle_exit));
#ifndef PORTLEASE_SERVER_DAEMON_DAEMON_H_
#define PORTLEASE_SERVER_DAEMON_DAEMON_H_

#include <signal.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/clock.h"
#include "server/core/lease_backend.h"
#include "server/core/lease_store.h"
#include "server/core/port_claims.h"
#include "server/core/port_prober.h"
#include "server/daemon/daemon_config.h"
#include "server/daemon/idle.h"
#include "server/daemon/lease_metrics.h"
#include "server/daemon/log.h"
#include "server/daemon/lost_state.h"
#include "server/daemon/reserved_ports.h"
#include "server/etcd/etcd_client.h"
#include "server/metrics/metrics.h"
#include "server/metrics/metrics_http_server.h"
#include "server/portserver/portserver_server.h"
#include "server/portserver/process_table.h"
#include "server/service/port_lease_service.h"
#include "server/service/server.h"
#include "server/store/lock_file.h"

namespace portlease {

class Daemon {
 public:
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  ~Daemon() = default;

  // With --idle-exit only; else null.
  IdleTracker* idle() const { return idle_.get(); }

  // The start-up line, the drained-ports warning, and "ready ADDRESS..."
  // on --ready-fd.
  void AnnounceReady();

  // Shuts down after `signal_number` (0: idle for --idle-exit): the
  // metrics endpoint, the server, then DB.state marked clean.
  void Stop(int signal_number);

 private:
  friend absl::StatusOr<std::unique_ptr<Daemon>> StartDaemon(
      DaemonConfig config);
  explicit Daemon(DaemonConfig config);

  absl::Status LockSockets();
  absl::Status ReservePool();
  void OnPoolChanged(const PoolChange& change);
  absl::Status OpenStoreChain();
  void MakeProber();
  void OpenClaims();
  absl::Status StartManager();
  absl::Status StartReplica();
  absl::Status StartRpcServer();
  absl::Status StartMetricsHttp();
  absl::Status StartPortserver();
  void Log(const char* level, absl::string_view message);

  const DaemonConfig config_;
  // Declared first: destroyed last, after every event was logged.
  std::unique_ptr<LogWriter> log_;
  RealClock clock_;
  MetricsRegistry registry_;
  std::unique_ptr<LeaseMetrics> metrics_;
  std::unique_ptr<LeaseStore> timed_store_;
  std::vector<std::unique_ptr<LockFile>> socket_locks_;
  std::unique_ptr<LeaseStore> store_;
  // Keeps DB.state up to date (durable only).
  std::unique_ptr<RecordingLeaseStore> recording_;
  std::unique_ptr<PortProber> prober_;
  std::unique_ptr<PortClaims> claims_;
  // --store=etcd only; outlives the backend.
  std::unique_ptr<etcd::EtcdClient> etcd_;
  // LeaseManager, or EtcdLeaseBackend with --store=etcd.
  std::unique_ptr<LeaseBackend> manager_;
  std::unique_ptr<IdleTracker> idle_;  // with --idle-exit only
  // With --reserve-pool=on only; released after the server stopped.
  std::unique_ptr<ReservedPorts> reserved_;
  std::unique_ptr<RunningServer> server_;
  // With --portserver-listen only; stopped before the manager goes.
  ProcProcessTable processes_;
  std::unique_ptr<PortserverServer> portserver_;
  // Declared last: stopped first, before the manager it reads goes.
  std::unique_ptr<MetricsHttpServer> metrics_http_;

  // What the start-up steps found, for the next steps and the start-up line.
  bool db_was_missing_ = false;
  absl::StatusOr<std::optional<RecordedState>> recorded_;
  ClaimsState claims_state_;
  std::string metrics_url_;
};

// Blocks SIGTERM and SIGINT in every thread started afterwards (main waits
// for them with WaitForStop) and ignores SIGPIPE and SIGXFSZ. Returns the
// blocked set.
sigset_t BlockStopSignals();

// Builds and starts everything. Errors keep portleased's exit codes
// (DaemonExitCode): a runtime failure never comes back as INVALID_ARGUMENT.
absl::StatusOr<std::unique_ptr<Daemon>> StartDaemon(DaemonConfig config);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_DAEMON_DAEMON_H_
