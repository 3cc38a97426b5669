// portleased: the port lease server. Wiring only: flags -> options -> store,
// prober, manager, server -> wait for SIGTERM/SIGINT -> exit code.
//
// Exit codes: 0 after a signalled shutdown, 2 for usage errors (bad flags,
// a pool that does not fit), 1 for runtime errors (store, bind, lock).
// The flags are in daemon_flags.cc, --help in daemon_help.cc.
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpc/support/log.h"
#include "portlease/version.h"
#include "server/claims/host_claims.h"
#include "server/core/clock.h"
#include "server/core/lease_manager.h"
#include "server/core/pool_config.h"
#include "server/core/port_prober.h"
#include "server/daemon/args.h"
#include "server/daemon/daemon_config.h"
#include "server/daemon/daemon_help.h"
#include "server/daemon/fds.h"
#include "server/daemon/idle.h"
#include "server/daemon/lease_metrics.h"
#include "server/daemon/log.h"
#include "server/daemon/lost_state.h"
#include "server/daemon/socket_lock.h"
#include "server/metrics/metrics.h"
#include "server/metrics/metrics_http_server.h"
#include "server/metrics/timed_lease_store.h"
#include "server/probe/system_prober.h"
#include "server/service/admin_auth.h"
#include "server/service/listen_address.h"
#include "server/service/server.h"
#include "server/store/lock_file.h"
#include "server/store/memory_lease_store.h"
#include "server/store/sqlite_lease_store.h"

namespace portlease {
namespace {


constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

// A failed startup step: the message and the exit code.
struct Failure {
  int exit_code;
  std::string message;
};

// gRPC's own log. Until the server is up, its errors are only remembered,
// so that a failed start stays one line with the OS's reason in it;
// afterwards each message becomes one log line. (gRPC takes a plain
// function pointer, hence the file-level state.)
absl::Mutex grpc_log_mu;
bool grpc_log_started ABSL_GUARDED_BY(grpc_log_mu) = false;
std::string grpc_os_error ABSL_GUARDED_BY(grpc_log_mu);

void GrpcLog(gpr_log_func_args* args) {
  absl::string_view message = args->message;
  absl::MutexLock lock(&grpc_log_mu);
  if (grpc_log_started) {
    LogLine(
        args->severity == GPR_LOG_SEVERITY_ERROR ? "ERROR" : "WARN",
        absl::StrCat("grpc: ", absl::StrReplaceAll(message, {{"\n", " "}})));
    return;
  }
  // e.g. ... os_error:"Address already in use" ...
  const size_t at = message.find("os_error:\"");
  if (at != absl::string_view::npos) {
    absl::string_view rest = message.substr(at + 10);
    grpc_os_error = std::string(rest.substr(0, rest.find('"')));
  }
}

int Fail(const Failure& failure) {
  std::fprintf(stderr, "portleased: %s\n", failure.message.c_str());
  return failure.exit_code;
}

// Everything main() builds, destroyed in reverse order.
struct Daemon {
  // Declared first: destroyed last, after every event was logged.
  std::unique_ptr<LogWriter> log;
  RealClock clock;
  MetricsRegistry registry;
  std::unique_ptr<LeaseMetrics> metrics;
  std::unique_ptr<LeaseStore> timed_store;
  std::vector<std::unique_ptr<LockFile>> socket_locks;
  std::unique_ptr<LeaseStore> store;
  // Keeps DB.state up to date (durable only).
  std::unique_ptr<RecordingLeaseStore> recording;
  std::unique_ptr<PortProber> prober;
  std::unique_ptr<PortClaims> claims;
  std::unique_ptr<LeaseManager> manager;
  std::unique_ptr<IdleTracker> idle;  // with --idle-exit only
  std::unique_ptr<RunningServer> server;
  // Declared last: stopped first, before the manager it reads goes.
  std::unique_ptr<MetricsHttpServer> metrics_http;
};

int Run(int argc, char** argv) {
  if (IsHelpRequest(argc, argv)) {
    PrintDaemonHelp();
    return 0;
  }
  InstallDaemonUsageConfig();

  absl::StatusOr<std::vector<std::string>> args =
      PrepareArgs(std::vector<std::string>(argv, argv + argc), {"listen"});
  if (!args.ok())
    return Fail({kExitUsage, std::string(args.status().message())});
  std::vector<char*> arg_pointers;
  for (std::string& arg : *args) arg_pointers.push_back(arg.data());
  absl::ParseCommandLine(static_cast<int>(arg_pointers.size()),
                         arg_pointers.data());

  // Descriptors: the soft limit up to the hard one, which
  // --max-connections must fit.
  const FdLimit fd_limit = RaiseFdLimit();
  absl::StatusOr<DaemonConfig> config =
      DaemonConfigFromFlags(DaemonHost{"/proc", fd_limit});
  if (!config.ok()) {
    return Fail({DaemonExitCode(config.status()),
                 std::string(config.status().message())});
  }

  const absl::Duration idle_exit = config->idle_exit;

  // From here on, no thread may take SIGTERM/SIGINT: main waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // A write past RLIMIT_FSIZE must fail (EFBIG: the store answers
  // UNAVAILABLE) instead of killing the server.
  signal(SIGXFSZ, SIG_IGN);
#ifdef NDEBUG
  // Debian's Abseil is built in debug mode, with its lock-order graph on:
  // a global lock taken in every Mutex lock and unlock, gRPC's included.
  // Release builds run without it; debug builds and the tests keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif

  Daemon daemon;
  daemon.log = std::make_unique<LogWriter>(STDERR_FILENO);
  daemon.metrics = std::make_unique<LeaseMetrics>(&daemon.registry, kVersion);
  for (const ListenAddress& address : config->listen_addresses) {
    if (address.is_tcp()) continue;
    absl::Status dir = MakeDirs(DirOf(address.path), 0755);
    if (!dir.ok()) return Fail({kExitRuntime, std::string(dir.message())});
    absl::StatusOr<std::unique_ptr<LockFile>> lock = LockSocket(address.path);
    if (!lock.ok())
      return Fail({kExitRuntime, std::string(lock.status().message())});
    daemon.socket_locks.push_back(*std::move(lock));
  }

  const std::string& db = config->db;
  const bool durable = config->durable;
  bool db_was_missing = false;
  // Read before the store can change it (README, "When the server loses
  // its state").
  absl::StatusOr<std::optional<RecordedState>> recorded;
  if (durable) {
    struct stat db_stat;
    db_was_missing = stat(db.c_str(), &db_stat) != 0 || db_stat.st_size == 0;
    recorded = ReadStateFile(StateFilePath(db));
    absl::Status dir = MakeDirs(DirOf(db), 0755);
    if (!dir.ok()) return Fail({kExitRuntime, std::string(dir.message())});
    SqliteOptions sqlite;
    sqlite.synchronous = config->db_sync == StoreSync::kFull
                             ? SqliteOptions::Synchronous::kFull
                             : SqliteOptions::Synchronous::kNormal;
    sqlite.max_events = config->audit_events;
    absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
        SqliteLeaseStore::Open(db, sqlite);
    if (absl::IsDataLoss(store.status())) {
      return Fail({kExitRuntime,
                   absl::StrCat("DATA_LOSS: ", store.status().message(),
                                "; keep it for inspection and move it aside "
                                "(mv ", db, " ", db, ".corrupt) to start on an "
                                "empty database: running jobs re-attach their "
                                "leases during --recovery-window")});
    }
    if (!store.ok())
      return Fail({kExitRuntime, std::string(store.status().message())});
    daemon.store = *std::move(store);
    LogWriter* log = daemon.log.get();
    daemon.recording = std::make_unique<RecordingLeaseStore>(
        daemon.store.get(), StateFilePath(db), [log](const absl::Status& s) {
          log->Write(FormatLogLine(absl::Now(), "WARN", s.message()));
        });
  } else {
    daemon.store =
        std::make_unique<MemoryLeaseStore>(config->audit_events);
  }
  if (config->probe == ProbeMode::kSystem) {
    daemon.prober = std::make_unique<SystemProber>();
  } else {
    daemon.prober = std::make_unique<TrustingProber>();
  }

  // Host-wide claims: a problem with the shared directory is reported, not
  // fatal (README, "Host-wide claims").
  ClaimsState claims_state;
  const std::string& dir = config->claims_dir;
  if (dir.empty()) {
    claims_state.off_reason = config->claims_off_reason;
  } else {
    absl::StatusOr<std::unique_ptr<HostClaims>> claims = HostClaims::Open(dir);
    if (claims.ok()) {
      daemon.claims = *std::move(claims);
      claims_state = {true, dir, ""};
    } else {
      claims_state.off_reason = std::string(claims.status().message());
      daemon.log->Write(FormatLogLine(
          absl::Now(), "WARN",
          absl::StrCat("host-wide claims are off: ", claims_state.off_reason,
                       "; other portleased on this host may grant the ports "
                       "this one grants")));
    }
  }

  daemon.timed_store = std::make_unique<TimedLeaseStore>(
      daemon.recording != nullptr ? daemon.recording.get() : daemon.store.get(), &daemon.clock, daemon.metrics->store_put(),
      daemon.metrics->store_delete(), daemon.metrics->store_failures());

  LeaseManagerOptions options;
  options.pool = config->pool;
  options.exclude = config->exclude;
  options.default_ttl = config->default_ttl;
  options.max_ttl = config->max_ttl;
  options.hold_grace = config->hold_grace;
  options.cooldown = config->cooldown;
  options.busy_backoff = config->busy_backoff;
  options.max_leases_per_owner = config->max_leases_per_owner;
  options.max_ports_per_owner = config->max_ports_per_owner;
  options.max_waiters = config->max_waiters;
  options.claims = daemon.claims.get();
  LogWriter* log = daemon.log.get();
  LeaseMetrics* metrics = daemon.metrics.get();
  const LogLevel min_level = config->log_level;
  options.on_event = [log, metrics, min_level](LeaseEvent event) {
    metrics->OnEvent(event);
    if (LevelEnabled(EventLevel(event.type), min_level)) {
      log->WriteEvent(std::move(event), absl::Now());
    }
  };
  absl::StatusOr<std::unique_ptr<LeaseManager>> manager =
      LeaseManager::Create(std::move(options), &daemon.clock,
                           daemon.timed_store.get(), daemon.prober.get());
  if (!manager.ok()) {
    return Fail({DaemonExitCode(manager.status()),
                 std::string(manager.status().message())});
  }
  daemon.manager = *std::move(manager);
  // Lost state (README, "When the server loses its state"): found by
  // comparing the database with DB.state, repaired by the holders.
  if (durable) {
    CheckForLostState(
        db, recorded, db_was_missing, config->recovery_window, daemon.manager.get(),
        daemon.recording.get(), [log](std::string message) {
          log->Write(FormatLogLine(absl::Now(), "ERROR", message));
        });
  }

  ServerOptions server_options;
  server_options.listen = config->listen;
  server_options.service.manager = daemon.manager.get();
  server_options.service.clock = &daemon.clock;
  server_options.service.version = kVersion;
  server_options.service.claims = claims_state;
  server_options.service.admin_token = config->admin_token;
  server_options.service.ephemeral = config->ephemeral;
  server_options.service.ephemeral_policy = config->ephemeral_policy;
  server_options.service.on_acquire_done =
      [metrics](const absl::Status& status, absl::Duration latency) {
        metrics->OnAcquireDone(status, latency);
      };
  server_options.unix_socket_group = config->socket_group;
  server_options.tls = config->tls;
  server_options.allow_insecure_tcp = config->insecure_tcp;
  server_options.max_receive_message_bytes = config->max_message_bytes;
  server_options.rate_limit.per_second = config->rate_limit;
  server_options.rate_limit.burst = config->rate_burst;
  server_options.max_connections = config->max_connections;
  server_options.max_streams = config->max_streams;
  if (idle_exit > absl::ZeroDuration()) {
    LeaseManager* manager = daemon.manager.get();
    daemon.idle = std::make_unique<IdleTracker>(
        &daemon.clock, [manager] { return manager->Stats().live_leases; });
    server_options.idle_tracker = daemon.idle.get();
  }
  gpr_set_log_function(GrpcLog);
  absl::StatusOr<std::unique_ptr<RunningServer>> server =
      StartServer(std::move(server_options));
  {
    absl::MutexLock lock(&grpc_log_mu);
    grpc_log_started = true;
    if (!server.ok()) {
      std::string message(server.status().message());
      if (!grpc_os_error.empty()) {
        absl::StrAppend(&message, " (", grpc_os_error, ")");
      }
      return Fail({DaemonExitCode(server.status()), message});
    }
  }
  daemon.server = *std::move(server);
  daemon.metrics->WatchManager(daemon.manager.get());
  std::string metrics_url;
  if (config->metrics_listen.has_value()) {
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> http =
        MetricsHttpServer::Start(config->metrics_listen->host,
                                 config->metrics_listen->port,
                                 &daemon.registry);
    if (!http.ok()) {
      daemon.server->Shutdown(absl::ZeroDuration());
      return Fail({kExitRuntime, std::string(http.status().message())});
    }
    daemon.metrics_http = *std::move(http);
    ListenAddress bound = *config->metrics_listen;
    bound.port = static_cast<uint16_t>(daemon.metrics_http->port());
    metrics_url = absl::StrCat("http://", bound.ToString(), "/metrics");
  }

  const std::string addresses = absl::StrJoin(daemon.server->addresses(), " ");
  uint32_t pool_size = 0;
  for (const PortRange& range : config->pool) pool_size += range.size();
  log->Write(FormatLogLine(
      absl::Now(), "INFO",
      absl::StrCat("portleased ", kVersion, " serving ", addresses,
                   " pool=", FormatPortRanges(config->pool), " (", pool_size,
                   " ports) db=", durable ? db : ":memory:", " probe=",
                   config->probe == ProbeMode::kSystem ? "system" : "none",
                   " claims=", claims_state.enabled ? claims_state.dir : "off",
                   metrics_url.empty() ? "" : " metrics=", metrics_url,
                   " admin=", config->admin_token.empty() ? "off" : "token",
                   " tls=", config->tls.cert_chain.empty() ? "off"
                            : config->tls.client_ca.empty() ? "on"
                                                            : "mutual",
                   idle_exit > absl::ZeroDuration() ? " idle_exit=" : "",
                   idle_exit > absl::ZeroDuration()
                       ? absl::FormatDuration(idle_exit)
                       : "",
                   " nofile=", fd_limit.soft, " (was ", fd_limit.before,
                   ", hard ", fd_limit.hard, ") max_connections=",
                   config->max_connections, " max_streams=", config->max_streams,
                   " max_ports_per_owner=", config->max_ports_per_owner, " pid=", getpid())));
  if (const uint32_t drained = daemon.manager->Stats().disabled; drained > 0) {
    log->Write(FormatLogLine(
        absl::Now(), "WARN",
        absl::StrCat(drained, " pool ports stay drained (stored in the "
                              "database); `portlease admin undrain PORT` "
                              "puts one back in service")));
  }
  if (const int ready_fd = config->ready_fd; ready_fd >= 0) {
    const std::string ready = absl::StrCat("ready ", addresses, "\n");
    ssize_t ignored = write(ready_fd, ready.data(), ready.size());
    (void)ignored;
    close(ready_fd);
  }

  const int signal_number =
      WaitForStop(stop_signals, daemon.idle.get(), idle_exit);
  log->Write(FormatLogLine(
      absl::Now(), "INFO",
      signal_number != 0
          ? absl::StrCat("shutting down on ", strsignal(signal_number))
          : absl::StrCat("shutting down: idle for ",
                         absl::FormatDuration(idle_exit),
                         " (no lease, no client; --idle-exit)")));
  if (daemon.metrics_http) daemon.metrics_http->Stop();
  daemon.server->Shutdown(absl::Seconds(1));
  if (daemon.recording != nullptr) {
    if (absl::Status saved = daemon.recording->WriteClean(); !saved.ok()) {
      log->Write(FormatLogLine(absl::Now(), "WARN", saved.message()));
    }
  }
  log->Write(FormatLogLine(absl::Now(), "INFO", "stopped"));
  return 0;
}

}  // namespace
}  // namespace portlease

int main(int argc, char** argv) { return portlease::Run(argc, argv); }
