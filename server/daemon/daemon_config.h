// DaemonConfig: portleased's settings, read from its flags once and
// checked before anything is opened or bound.
//
//   const FdLimit fd_limit = RaiseFdLimit();
//   absl::StatusOr<DaemonConfig> config =
//       DaemonConfigFromFlags(DaemonHost{"/proc", fd_limit});
//   if (!config.ok()) return Fail(DaemonExitCode(config.status()), ...);
#ifndef PORTLEASE_SERVER_DAEMON_DAEMON_CONFIG_H_
#define PORTLEASE_SERVER_DAEMON_DAEMON_CONFIG_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/lease.h"
#include "server/core/pool_config.h"
#include "server/daemon/fds.h"
#include "server/daemon/log.h"
#include "server/service/listen_address.h"
#include "server/service/server.h"

namespace portlease {

// --store (sqlite with --nodurable or --db=:memory: is kMemory).
enum class StoreKind { kSqlite, kMemory, kEtcd };
// --db-sync.
enum class StoreSync { kNormal, kFull };
// --probe.
enum class ProbeMode { kSystem, kNone };

struct DaemonConfig {
  // --listen, split at commas, each checked (transport security too).
  std::vector<std::string> listen;
  std::vector<ListenAddress> listen_addresses;  // the same, parsed
  // --pool fitted around the ephemeral range per --ephemeral; --exclude;
  // the ports that can be granted (PoolConfig::size). pool_fit: the
  // ephemeral range ({0,0}: unknown, --ephemeral=allow), --ephemeral and
  // --always-exclude, which every pool is fitted to (set-pool's too).
  std::vector<PortRange> pool;
  std::vector<Port> exclude;
  uint32_t pool_size = 0;
  PoolFit pool_fit = {{0, 0}, EphemeralPolicy::kRefuse, {}};
  // --reserve-pool=on: the pool kept in the kernel's reserved ports.
  bool reserve_pool = false;
  // The store: --store; with sqlite, --db unless --nodurable or ":memory:".
  // durable: kSqlite (DB.state, lost-state recovery, reserved-ports record).
  StoreKind store = StoreKind::kSqlite;
  std::string db;
  bool durable = true;
  // --store=etcd: --etcd-endpoints (split at commas), the TLS files and
  // --etcd-prefix; --pool-host, and whether this replica probes before
  // granting (--probe=system on the pool host itself).
  std::vector<std::string> etcd_endpoints;
  std::string etcd_ca;
  std::string etcd_cert;
  std::string etcd_key;
  std::string etcd_prefix;
  std::string pool_host;
  bool probe_pool = true;
  // Flags ignored with --store=etcd, one line each, for the start-up log.
  std::vector<std::string> warnings;
  StoreSync db_sync = StoreSync::kNormal;
  uint32_t audit_events = 0;
  ProbeMode probe = ProbeMode::kSystem;
  // Host-wide claims: the directory (resolved from --claims-dir and
  // --probe), or empty and the reason they are off.
  std::string claims_dir;
  std::string claims_off_reason;
  absl::Duration idle_exit = absl::ZeroDuration();  // 0: never
  int ready_fd = -1;
  absl::Duration recovery_window = absl::ZeroDuration();
  LogLevel log_level = LogLevel::kInfo;
  gid_t socket_group = static_cast<gid_t>(-1);  // -1: the server's own
  bool insecure_tcp = false;
  ServerOptions::Tls tls;   // PEM contents; empty: no TLS
  std::string admin_token;  // empty: admin RPCs refused
  std::optional<ListenAddress> metrics_listen;
  int32_t max_message_bytes = 0;
  uint32_t max_ports_per_owner = 0;  // resolved; 0: no limit
  FdLimit fd_limit;                  // as given in DaemonHost
  uint32_t max_connections = 0;      // resolved within fd_limit
  uint32_t max_streams = 0;
  double rate_limit = 0;
  double rate_burst = 0;
  absl::Duration default_ttl = absl::ZeroDuration();
  absl::Duration max_ttl = absl::ZeroDuration();
  absl::Duration hold_grace = absl::ZeroDuration();
  absl::Duration cooldown = absl::ZeroDuration();
  absl::Duration busy_backoff = absl::ZeroDuration();
  uint32_t max_leases_per_owner = 0;
  uint32_t max_waiters = 0;
  // --portserver-listen, split at commas (empty: off), and its leases' TTL
  // (unset: 24h, or --max-ttl when shorter).
  std::vector<std::string> portserver_listen;
  absl::Duration portserver_ttl = absl::ZeroDuration();
};

// What the config depends on besides the flags.
struct DaemonHost {
  // Where the kernel's ephemeral port range is read (tests use a fixture).
  std::string proc_root = "/proc";
  // The open-file limit (RaiseFdLimit), which --max-connections must fit.
  FdLimit fd_limit;
  // This host's name (gethostname), compared with --pool-host.
  std::string hostname;
};

// gethostname(), "" when it fails.
std::string ThisHostName();

// Reads every daemon flag exactly once (daemon_flags.h) into a typed field,
// checking them in a fixed order so that the same error wins when several
// flags are bad; reads the TLS PEM files, the admin token file and the
// ephemeral port range. INVALID_ARGUMENT for what the operator must fix in
// the flags (exit 2); other codes otherwise (exit 1).
absl::StatusOr<DaemonConfig> DaemonConfigFromFlags(const DaemonHost& host);

// The exit code for a failed start: 2 for INVALID_ARGUMENT (usage), else 1.
int DaemonExitCode(const absl::Status& status);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_DAEMON_DAEMON_CONFIG_H_
