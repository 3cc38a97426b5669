#include "server/daemon/daemon.h"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/system/files.h"
#include "common/system/lock_graph.h"
#include "grpc/support/log.h"
#include "portlease/version.h"
#include "server/claims/host_claims.h"
#include "server/core/lease_manager.h"
#include "server/daemon/socket_lock.h"
#include "server/metrics/timed_lease_store.h"
#include "server/probe/system_prober.h"
#include "server/replicated/etcd_lease_backend.h"
#include "server/store/memory_lease_store.h"
#include "server/store/sqlite_lease_store.h"

namespace portlease {
namespace {

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

// The start-up line's store: db=FILE, db=:memory: or etcd=URL,... with
// its prefix and pool host.
std::string StoreDescription(const DaemonConfig& config) {
  switch (config.store) {
    case StoreKind::kSqlite:
      return absl::StrCat("db=", config.db);
    case StoreKind::kMemory:
      return "db=:memory:";
    case StoreKind::kEtcd:
      return absl::StrCat("etcd=", absl::StrJoin(config.etcd_endpoints, ","),
                          " prefix=", config.etcd_prefix, " pool_host=",
                          config.pool_host.empty() ? "-" : config.pool_host);
  }
  return "";
}

// A failure that is the host's, not the flags': never exit 2.
absl::Status Runtime(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kInvalidArgument) return status;
  return absl::FailedPreconditionError(status.message());
}

}  // namespace

sigset_t BlockStopSignals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // A write past RLIMIT_FSIZE must fail (EFBIG: the store answers
  // UNAVAILABLE) instead of killing the server.
  signal(SIGXFSZ, SIG_IGN);
  SkipLockGraphInReleaseBuilds();
  return stop_signals;
}

Daemon::Daemon(DaemonConfig config)
    : config_(std::move(config)),
      log_(std::make_unique<LogWriter>(STDERR_FILENO)),
      metrics_(std::make_unique<LeaseMetrics>(&registry_, kVersion)) {}

void Daemon::Log(const char* level, absl::string_view message) {
  log_->Write(FormatLogLine(absl::Now(), level, message));
}

absl::Status Daemon::LockSockets() {
  std::vector<std::string> paths;
  for (const ListenAddress& address : config_.listen_addresses) {
    if (!address.is_tcp()) paths.push_back(address.path);
  }
  for (const std::string& address : config_.portserver_listen) {
    if (address[0] != '@') paths.push_back(address);
  }
  for (const std::string& path : paths) {
    absl::Status dir = MakeDirs(DirOf(path), 0755);
    if (!dir.ok()) return Runtime(dir);
    absl::StatusOr<std::unique_ptr<LockFile>> lock = LockSocket(path);
    if (!lock.ok()) return Runtime(lock.status());
    socket_locks_.push_back(*std::move(lock));
  }
  return absl::OkStatus();
}

// --reserve-pool=on: the pool in the kernel's reserved ports before any
// grant, so no ephemeral port lands on a port this server hands out.
absl::Status Daemon::ReservePool() {
  if (!config_.reserve_pool) return absl::OkStatus();
  // Next to the database, so that a restart after a crash still removes
  // what this server added.
  reserved_ = std::make_unique<ReservedPorts>(
      kReservedPortsPath,
      config_.durable ? ReservedPortsRecordPath(config_.db) : "");
  if (absl::Status s = reserved_->Reserve(config_.pool); !s.ok()) {
    return Runtime(s);
  }
  Log("INFO", absl::StrCat("reserved the pool in ", kReservedPortsPath,
                           " (added ", FormatPortRanges(reserved_->added()),
                           "; removed at exit)"));
  return absl::OkStatus();
}

// After `portlease admin set-pool`: the new pool reserved instead of the
// old one. The pool has changed already, so a failure is only logged. Two
// set-pool calls at the same instant may reach here in either order, and
// leave the other pool reserved; the log line says which one is.
void Daemon::OnPoolChanged(const PoolChange& change) {
  if (absl::Status s = reserved_->Reserve(change.pool); !s.ok()) {
    Log("WARN", absl::StrCat("the new pool is not reserved: ", s.message()));
    return;
  }
  Log("INFO", absl::StrCat("reserved the new pool ",
                           FormatPortRanges(change.pool), " in ",
                           kReservedPortsPath, " (added ",
                           FormatPortRanges(reserved_->added()), ")"));
}

// SQLite (or memory) -> RecordingLeaseStore (durable only) -> timing.
// None with --store=etcd.
absl::Status Daemon::OpenStoreChain() {
  if (config_.store == StoreKind::kEtcd) return absl::OkStatus();
  const std::string& db = config_.db;
  if (config_.durable) {
    // Read before the store can change it (README, "When the server loses
    // its state").
    struct stat db_stat;
    db_was_missing_ = stat(db.c_str(), &db_stat) != 0 || db_stat.st_size == 0;
    recorded_ = ReadStateFile(StateFilePath(db));
    absl::Status dir = MakeDirs(DirOf(db), 0755);
    if (!dir.ok()) return Runtime(dir);
    SqliteOptions sqlite;
    sqlite.synchronous = config_.db_sync == StoreSync::kFull
                             ? SqliteOptions::Synchronous::kFull
                             : SqliteOptions::Synchronous::kNormal;
    sqlite.max_events = config_.audit_events;
    absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
        SqliteLeaseStore::Open(db, sqlite);
    if (absl::IsDataLoss(store.status())) {
      return absl::DataLossError(absl::StrCat(
          "DATA_LOSS: ", store.status().message(),
          "; keep it for inspection and move it aside (mv ", db, " ", db,
          ".corrupt) to start on an empty database: running jobs re-attach "
          "their leases during --recovery-window"));
    }
    if (!store.ok()) return Runtime(store.status());
    store_ = *std::move(store);
    LogWriter* log = log_.get();
    recording_ = std::make_unique<RecordingLeaseStore>(
        store_.get(), StateFilePath(db), [log](const absl::Status& s) {
          log->Write(FormatLogLine(absl::Now(), "WARN", s.message()));
        });
  } else {
    store_ = std::make_unique<MemoryLeaseStore>(config_.audit_events);
  }
  timed_store_ = std::make_unique<TimedLeaseStore>(
      recording_ != nullptr ? recording_.get() : store_.get(), &clock_,
      metrics_->store_put(), metrics_->store_delete(),
      metrics_->store_failures());
  return absl::OkStatus();
}

void Daemon::MakeProber() {
  if (config_.probe == ProbeMode::kSystem) {
    prober_ = std::make_unique<SystemProber>();
  } else {
    prober_ = std::make_unique<TrustingProber>();
  }
}

// Host-wide claims: a problem with the shared directory is reported, not
// fatal (README, "Host-wide claims").
void Daemon::OpenClaims() {
  const std::string& dir = config_.claims_dir;
  if (dir.empty()) {
    claims_state_.off_reason = config_.claims_off_reason;
    return;
  }
  absl::StatusOr<std::unique_ptr<HostClaims>> claims = HostClaims::Open(dir);
  if (claims.ok()) {
    claims_ = *std::move(claims);
    claims_state_ = {true, dir, ""};
    return;
  }
  claims_state_.off_reason = std::string(claims.status().message());
  Log("WARN",
      absl::StrCat("host-wide claims are off: ", claims_state_.off_reason,
                   "; other portleased on this host may grant the ports "
                   "this one grants"));
}

absl::Status Daemon::StartManager() {
  if (config_.store == StoreKind::kEtcd) return StartReplica();
  LeaseManagerOptions options;
  options.pool = config_.pool;
  options.exclude = config_.exclude;
  options.pool_fit = config_.pool_fit;
  options.default_ttl = config_.default_ttl;
  options.max_ttl = config_.max_ttl;
  options.hold_grace = config_.hold_grace;
  options.cooldown = config_.cooldown;
  options.busy_backoff = config_.busy_backoff;
  options.max_leases_per_owner = config_.max_leases_per_owner;
  options.max_ports_per_owner = config_.max_ports_per_owner;
  options.max_waiters = config_.max_waiters;
  options.claims = claims_.get();
  LogWriter* log = log_.get();
  LeaseMetrics* metrics = metrics_.get();
  const LogLevel min_level = config_.log_level;
  options.on_event = [log, metrics, min_level](LeaseEvent event) {
    metrics->OnEvent(event);
    if (LevelEnabled(EventLevel(event.type), min_level)) {
      log->WriteEvent(std::move(event), absl::Now());
    }
  };
  absl::StatusOr<std::unique_ptr<LeaseManager>> manager =
      LeaseManager::Create(std::move(options), &clock_, timed_store_.get(),
                           prober_.get());
  if (!manager.ok()) return manager.status();
  // Lost state (README, "When the server loses its state"): found by
  // comparing the database with DB.state, repaired by the holders.
  if (config_.durable) {
    CheckForLostState(config_.db, recorded_, db_was_missing_,
                      config_.recovery_window, manager->get(), recording_.get(),
                      [log](std::string message) {
                        log->Write(
                            FormatLogLine(absl::Now(), "ERROR", message));
                      });
  }
  manager_ = *std::move(manager);
  return absl::OkStatus();
}

// --store=etcd: an EtcdLeaseBackend on the cluster; the lease rules are
// the same flags as LeaseManager's, --cooldown is its quarantine.
absl::Status Daemon::StartReplica() {
  for (const std::string& warning : config_.warnings) Log("WARN", warning);
  etcd::EtcdOptions etcd_options;
  etcd_options.endpoints = config_.etcd_endpoints;
  etcd_options.ca_file = config_.etcd_ca;
  etcd_options.cert_file = config_.etcd_cert;
  etcd_options.key_file = config_.etcd_key;
  absl::StatusOr<std::unique_ptr<etcd::EtcdClient>> client =
      etcd::EtcdClient::Connect(etcd_options);
  if (!client.ok()) return Runtime(client.status());
  etcd_ = *std::move(client);
  replicated::EtcdLeaseBackendOptions options;
  LeaseManagerOptions& rules = options.rules;
  rules.pool = config_.pool;
  rules.exclude = config_.exclude;
  rules.pool_fit = config_.pool_fit;
  rules.default_ttl = config_.default_ttl;
  rules.max_ttl = config_.max_ttl;
  rules.hold_grace = config_.hold_grace;
  rules.busy_backoff = config_.busy_backoff;
  rules.max_leases_per_owner = config_.max_leases_per_owner;
  rules.max_ports_per_owner = config_.max_ports_per_owner;
  rules.max_waiters = config_.max_waiters;
  options.prefix = config_.etcd_prefix;
  options.quarantine = config_.cooldown;
  options.probe = config_.probe_pool ? prober_.get() : nullptr;
  options.on_etcd_state = [this](const absl::Status& s) {
    if (s.ok()) {
      Log("INFO", "etcd answers again");
    } else {
      Log("WARN", absl::StrCat("etcd does not answer (", s.message(),
                               "): grants, renewals and releases fail "
                               "UNAVAILABLE until it does"));
    }
  };
  if (config_.probe == ProbeMode::kSystem && !config_.probe_pool) {
    Log("INFO", absl::StrCat("not probing ports before granting them: "
                             "--pool-host=",
                             config_.pool_host, " is not this host (",
                             ThisHostName(), ")"));
  }
  absl::StatusOr<std::unique_ptr<replicated::EtcdLeaseBackend>> backend =
      replicated::EtcdLeaseBackend::Create(std::move(options), &clock_,
                                           etcd_.get());
  if (!backend.ok()) {
    return absl::Status(
        backend.status().code(),
        absl::StrCat("--store=etcd: ", backend.status().message()));
  }
  manager_ = *std::move(backend);
  return absl::OkStatus();
}

absl::Status Daemon::StartRpcServer() {
  ServerOptions options;
  options.listen = config_.listen;
  options.service.manager = manager_.get();
  options.service.clock = &clock_;
  options.service.version = kVersion;
  options.service.claims = claims_state_;
  options.service.admin_token = config_.admin_token;
  LeaseMetrics* metrics = metrics_.get();
  options.service.on_acquire_done = [metrics](const absl::Status& status,
                                              absl::Duration latency) {
    metrics->OnAcquireDone(status, latency);
  };
  if (reserved_ != nullptr) {
    options.service.on_pool_changed = [this](const PoolChange& change) {
      OnPoolChanged(change);
    };
  }
  options.unix_socket_group = config_.socket_group;
  options.tls = config_.tls;
  options.allow_insecure_tcp = config_.insecure_tcp;
  options.max_receive_message_bytes = config_.max_message_bytes;
  options.rate_limit.per_second = config_.rate_limit;
  options.rate_limit.burst = config_.rate_burst;
  options.max_connections = config_.max_connections;
  options.max_streams = config_.max_streams;
  if (config_.idle_exit > absl::ZeroDuration()) {
    LeaseBackend* manager = manager_.get();
    idle_ = std::make_unique<IdleTracker>(
        &clock_, [manager] { return manager->Stats().live_leases; });
    options.idle_tracker = idle_.get();
  }
  gpr_set_log_function(GrpcLog);
  absl::StatusOr<std::unique_ptr<RunningServer>> server =
      StartServer(std::move(options));
  {
    absl::MutexLock lock(&grpc_log_mu);
    grpc_log_started = true;
    if (!server.ok()) {
      std::string message(server.status().message());
      if (!grpc_os_error.empty()) {
        absl::StrAppend(&message, " (", grpc_os_error, ")");
      }
      return absl::Status(server.status().code(), message);
    }
  }
  server_ = *std::move(server);
  metrics_->WatchManager(manager_.get());
  return absl::OkStatus();
}

absl::Status Daemon::StartMetricsHttp() {
  if (!config_.metrics_listen.has_value()) return absl::OkStatus();
  const ListenAddress& address = *config_.metrics_listen;
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> http =
      MetricsHttpServer::Start(address.host, address.port, &registry_);
  if (!http.ok()) {
    server_->Shutdown(absl::ZeroDuration());
    return Runtime(http.status());
  }
  metrics_http_ = *std::move(http);
  ListenAddress bound = address;
  bound.port = static_cast<uint16_t>(metrics_http_->port());
  metrics_url_ = absl::StrCat("http://", bound.ToString(), "/metrics");
  return absl::OkStatus();
}

// Google's portserver protocol (--portserver-listen): its connections
// count as activity for --idle-exit, and its leases are live leases.
absl::Status Daemon::StartPortserver() {
  if (config_.portserver_listen.empty()) return absl::OkStatus();
  PortserverServerOptions options;
  options.listen = config_.portserver_listen;
  options.leases.manager = manager_.get();
  options.leases.processes = &processes_;
  options.leases.ttl = config_.portserver_ttl;
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0) options.leases.host = host;
  options.group = config_.socket_group;
  if (IdleTracker* idle = idle_.get(); idle != nullptr) {
    options.on_request_started = [idle] { idle->CallStarted(); };
    options.on_request_ended = [idle] { idle->CallEnded(); };
  }
  if (LevelEnabled("DEBUG", config_.log_level)) {
    LogWriter* log = log_.get();
    options.on_refused = [log](const absl::Status& why) {
      log->Write(FormatLogLine(
          absl::Now(), "DEBUG",
          absl::StrCat("portserver request refused: ", why.message())));
    };
  }
  absl::StatusOr<std::unique_ptr<PortserverServer>> portserver =
      PortserverServer::Start(std::move(options));
  if (!portserver.ok()) {
    server_->Shutdown(absl::ZeroDuration());
    return Runtime(portserver.status());
  }
  portserver_ = *std::move(portserver);
  return absl::OkStatus();
}

void Daemon::AnnounceReady() {
  const std::string addresses = absl::StrJoin(server_->addresses(), " ");
  const absl::Duration idle_exit = config_.idle_exit;
  const FdLimit& fd_limit = config_.fd_limit;
  const std::string portserver =
      portserver_ == nullptr
          ? ""
          : absl::StrCat(" portserver=",
                         absl::StrJoin(portserver_->addresses(), ","));
  Log("INFO",
      absl::StrCat(
          "portleased ", kVersion, " serving ", addresses,
          " pool=", FormatPortRanges(config_.pool), " (", config_.pool_size,
          " ports) ", StoreDescription(config_),
          " probe=",
          config_.probe == ProbeMode::kNone ? "none"
          : config_.probe_pool              ? "system"
                                            : "off (pool host elsewhere)",
          " claims=", claims_state_.enabled ? claims_state_.dir : "off",
          metrics_url_.empty() ? "" : " metrics=", metrics_url_,
          " admin=", config_.admin_token.empty() ? "off" : "token",
          " tls=",
          config_.tls.cert_chain.empty()  ? "off"
          : config_.tls.client_ca.empty() ? "on"
                                          : "mutual",
          idle_exit > absl::ZeroDuration() ? " idle_exit=" : "",
          idle_exit > absl::ZeroDuration() ? absl::FormatDuration(idle_exit)
                                           : "",
          " nofile=", fd_limit.soft, " (was ", fd_limit.before, ", hard ",
          fd_limit.hard, ") max_connections=", config_.max_connections,
          " max_streams=", config_.max_streams,
          " max_ports_per_owner=", config_.max_ports_per_owner,
          portserver, " pid=", getpid()));
  if (portserver_ != nullptr) {
    for (const std::string& address : portserver_->skipped()) {
      Log("WARN", absl::StrCat("portserver address ", address,
                               " is served by another process; not "
                               "serving it (--portserver-listen)"));
    }
  }
  if (const uint32_t drained = manager_->Stats().disabled; drained > 0) {
    Log("WARN", absl::StrCat(drained,
                             " pool ports stay drained (stored in the "
                             "database); `portlease admin undrain PORT` "
                             "puts one back in service"));
  }
  if (const int ready_fd = config_.ready_fd; ready_fd >= 0) {
    // Whoever waits for "ready" finds the lines above in the log.
    log_->Flush(absl::Seconds(2));
    const std::string ready = absl::StrCat("ready ", addresses, "\n");
    ssize_t ignored = write(ready_fd, ready.data(), ready.size());
    (void)ignored;
    close(ready_fd);
  }
}

void Daemon::Stop(int signal_number) {
  Log("INFO",
      signal_number != 0
          ? absl::StrCat("shutting down on ", strsignal(signal_number))
          : absl::StrCat("shutting down: idle for ",
                         absl::FormatDuration(config_.idle_exit),
                         " (no lease, no client; --idle-exit)"));
  if (metrics_http_) metrics_http_->Stop();
  if (portserver_) portserver_->Stop();
  server_->Shutdown(absl::Seconds(1));
  if (reserved_ != nullptr) {
    const std::vector<PortRange> added = reserved_->added();
    if (absl::Status released = reserved_->Release(); !released.ok()) {
      Log("WARN", released.message());
    } else if (!added.empty()) {
      Log("INFO", absl::StrCat("removed ", FormatPortRanges(added), " from ",
                               kReservedPortsPath));
    }
  }
  if (recording_ != nullptr) {
    if (absl::Status saved = recording_->WriteClean(); !saved.ok()) {
      Log("WARN", saved.message());
    }
  }
  Log("INFO", "stopped");
}

absl::StatusOr<std::unique_ptr<Daemon>> StartDaemon(DaemonConfig config) {
  std::unique_ptr<Daemon> daemon(new Daemon(std::move(config)));
  if (absl::Status s = daemon->LockSockets(); !s.ok()) return s;
  if (absl::Status s = daemon->OpenStoreChain(); !s.ok()) return s;
  if (absl::Status s = daemon->ReservePool(); !s.ok()) return s;
  daemon->MakeProber();
  daemon->OpenClaims();
  if (absl::Status s = daemon->StartManager(); !s.ok()) return s;
  if (absl::Status s = daemon->StartRpcServer(); !s.ok()) return s;
  if (absl::Status s = daemon->StartMetricsHttp(); !s.ok()) return s;
  if (absl::Status s = daemon->StartPortserver(); !s.ok()) return s;
  return daemon;
}

}  // namespace portlease
