#include "server/daemon/daemon_config.h"

#include <grp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/system/files.h"
#include "server/claims/host_claims.h"
#include "server/core/lease_manager.h"
#include "server/daemon/daemon_flags.h"
#include "server/portserver/portserver_server.h"
#include "server/probe/system_prober.h"
#include "server/service/admin_auth.h"

namespace portlease {
namespace {

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

// A usage error (exit 2) with `message`.
absl::Status Usage(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

// A whole small file (PEM, tokens). NOT_FOUND naming the flag and path.
absl::StatusOr<std::string> ReadSmallFile(absl::string_view flag,
                                          const std::string& path) {
  absl::StatusOr<std::string> content = ReadFile(path);
  if (!content.ok()) {
    return absl::NotFoundError(
        absl::StrCat("--", flag, "=", path, ": cannot read the file"));
  }
  return content;
}

absl::StatusOr<gid_t> ParseGroup(const std::string& name) {
  uint32_t number = 0;
  if (absl::SimpleAtoi(name, &number)) return static_cast<gid_t>(number);
  struct group grp;
  struct group* result = nullptr;
  char buffer[8192];
  if (getgrnam_r(name.c_str(), &grp, buffer, sizeof(buffer), &result) != 0 ||
      result == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--socket-group=", name, ": no such group"));
  }
  return result->gr_gid;
}

absl::StatusOr<EphemeralPolicy> ParsePolicy(absl::string_view text) {
  if (text == "refuse") return EphemeralPolicy::kRefuse;
  if (text == "trim") return EphemeralPolicy::kTrim;
  if (text == "allow") return EphemeralPolicy::kAllow;
  return absl::InvalidArgumentError(
      absl::StrCat("--ephemeral=", text, ": expected refuse, trim or allow"));
}

// --listen: each address parsed and checked for transport security.
absl::Status ListenFromFlags(bool tls, DaemonConfig& config) {
  config.insecure_tcp = absl::GetFlag(FLAGS_insecure_tcp);
  for (const std::string& item : absl::GetFlag(FLAGS_listen)) {
    for (absl::string_view part :
         absl::StrSplit(item, ',', absl::SkipEmpty())) {
      absl::StatusOr<ListenAddress> address = ParseListenAddress(part);
      if (!address.ok()) return Usage(address.status().message());
      absl::Status exposure =
          CheckTransportSecurity(*address, tls, config.insecure_tcp);
      if (!exposure.ok()) return Usage(exposure.message());
      config.listen.push_back(std::string(part));
      config.listen_addresses.push_back(*std::move(address));
    }
  }
  if (config.listen.empty()) return Usage("--listen is empty");
  return absl::OkStatus();
}

// A port list flag ("" : none).
absl::StatusOr<std::vector<Port>> PortsFlag(absl::string_view name,
                                            const std::string& value) {
  if (value.empty()) return std::vector<Port>();
  absl::StatusOr<std::vector<Port>> parsed = ParsePortList(value);
  if (!parsed.ok()) {
    return Usage(absl::StrCat("--", name, ": ", parsed.status().message()));
  }
  return parsed;
}

bool Overlaps(const std::vector<PortRange>& pool, PortRange range) {
  for (const PortRange& r : pool) {
    if (r.lo <= range.hi && range.lo <= r.hi) return true;
  }
  return false;
}

// --pool, --exclude, --always-exclude and --ephemeral: the pool fitted
// around the kernel's ephemeral port range (PoolConfig, as set-pool does).
absl::Status PoolFromFlags(const DaemonHost& host, DaemonConfig& config) {
  absl::StatusOr<std::vector<PortRange>> pool =
      ParsePortRanges(absl::GetFlag(FLAGS_pool));
  if (!pool.ok()) {
    return Usage(absl::StrCat("--pool: ", pool.status().message()));
  }
  absl::StatusOr<std::vector<Port>> exclude =
      PortsFlag("exclude", absl::GetFlag(FLAGS_exclude));
  if (!exclude.ok()) return exclude.status();
  absl::StatusOr<std::vector<Port>> always =
      PortsFlag("always-exclude", absl::GetFlag(FLAGS_always_exclude));
  if (!always.ok()) return always.status();
  config.pool_fit.always_exclude = *std::move(always);
  absl::StatusOr<EphemeralPolicy> policy =
      ParsePolicy(absl::GetFlag(FLAGS_ephemeral));
  if (!policy.ok()) return policy.status();
  config.pool_fit.policy = *policy;
  const std::string reserve = absl::GetFlag(FLAGS_reserve_pool);
  if (reserve != "off" && reserve != "on") {
    return Usage(absl::StrCat("--reserve-pool=", reserve, ": expected off or on"));
  }
  config.reserve_pool = reserve == "on";
  absl::StatusOr<PortRange> ephemeral = ReadEphemeralPortRange(host.proc_root);
  if (!ephemeral.ok()) {
    if (*policy != EphemeralPolicy::kAllow) {
      // A runtime error, even when the file's content is malformed.
      return absl::FailedPreconditionError(
          absl::StrCat("cannot read the ephemeral port range: ",
                       ephemeral.status().message(),
                       " (pass --ephemeral=allow to start anyway)"));
    }
    ephemeral = PortRange{0, 0};  // nothing to fit around
  }
  config.pool_fit.ephemeral = *ephemeral;
  const bool refused_overlap = *policy == EphemeralPolicy::kRefuse &&
                               Overlaps(*pool, config.pool_fit.ephemeral);
  absl::StatusOr<PoolConfig> made =
      PoolConfig::Make(*std::move(pool), *std::move(exclude), config.pool_fit);
  if (!made.ok()) {
    return Usage(absl::StrCat(
        made.status().message(),
        refused_overlap
            ? ", or pass --ephemeral=trim to cut the overlap out, or "
              "--ephemeral=allow with --reserve-pool=on, which makes the "
              "overlap safe (the kernel then never picks a pool port as an "
              "ephemeral port)"
            : ""));
  }
  config.pool = made->ranges();
  config.exclude = made->exclude();
  config.pool_size = made->size();
  return absl::OkStatus();
}

// --store, --db and --nodurable: which store keeps the leases.
absl::Status StoreKindFromFlags(DaemonConfig& config) {
  const std::string store = absl::GetFlag(FLAGS_store);
  if (store != "sqlite" && store != "memory" && store != "etcd") {
    return Usage(
        absl::StrCat("--store=", store, ": expected sqlite, memory or etcd"));
  }
  config.db = absl::GetFlag(FLAGS_db);
  const bool durable = absl::GetFlag(FLAGS_durable) && config.db != ":memory:";
  if (store == "etcd") {
    config.store = StoreKind::kEtcd;
  } else if (store == "memory" || !durable) {
    config.store = StoreKind::kMemory;
  } else {
    config.store = StoreKind::kSqlite;
  }
  config.durable = config.store == StoreKind::kSqlite;
  return absl::OkStatus();
}

// The store, the prober, host-wide claims and the lifetimes.
absl::Status StoreFromFlags(DaemonConfig& config) {
  if (absl::Status s = StoreKindFromFlags(config); !s.ok()) return s;
  config.audit_events = absl::GetFlag(FLAGS_audit_events);
  const std::string db_sync = absl::GetFlag(FLAGS_db_sync);
  if (db_sync != "normal" && db_sync != "full") {
    return Usage(
        absl::StrCat("--db-sync=", db_sync, ": expected normal or full"));
  }
  config.db_sync = db_sync == "full" ? StoreSync::kFull : StoreSync::kNormal;
  const std::string probe = absl::GetFlag(FLAGS_probe);
  if (probe != "system" && probe != "none") {
    return Usage(absl::StrCat("--probe=", probe, ": expected system or none"));
  }
  config.probe = probe == "none" ? ProbeMode::kNone : ProbeMode::kSystem;
  const std::string claims_dir = absl::GetFlag(FLAGS_claims_dir);
  std::string dir = claims_dir;
  if (dir.empty()) dir = probe == "none" ? "off" : kDefaultClaimsDir;
  if (dir == "off") {
    config.claims_off_reason = claims_dir.empty()
                                   ? "--probe=none trusts the pool"
                                   : "--claims-dir=off";
  } else {
    config.claims_dir = dir;
  }
  config.ready_fd = absl::GetFlag(FLAGS_ready_fd);
  config.idle_exit = absl::GetFlag(FLAGS_idle_exit);
  if (config.idle_exit < absl::ZeroDuration()) {
    return Usage("--idle-exit must not be negative");
  }
  config.hold_grace = absl::GetFlag(FLAGS_hold_grace);
  config.recovery_window = 2 * config.hold_grace;
  if (const std::string text = absl::GetFlag(FLAGS_recovery_window);
      !text.empty() && (!absl::ParseDuration(text, &config.recovery_window) ||
                        config.recovery_window < absl::ZeroDuration())) {
    return Usage(absl::StrCat("--recovery-window=", text,
                              ": expected a duration like 4s"));
  }
  return absl::OkStatus();
}

// --log-level, --socket-group, TLS (the PEM files read) and the admin token.
absl::Status SecurityFromFlags(const std::string& tls_cert,
                               DaemonConfig& config) {
  absl::StatusOr<LogLevel> log_level =
      ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!log_level.ok()) return Usage(log_level.status().message());
  config.log_level = *log_level;
  if (const std::string group = absl::GetFlag(FLAGS_socket_group);
      !group.empty()) {
    absl::StatusOr<gid_t> gid = ParseGroup(group);
    if (!gid.ok()) return Usage(gid.status().message());
    config.socket_group = *gid;
  }
  const std::string key = absl::GetFlag(FLAGS_tls_key);
  const std::string ca = absl::GetFlag(FLAGS_tls_client_ca);
  if (tls_cert.empty() != key.empty() || (!ca.empty() && tls_cert.empty())) {
    return Usage(
        "--tls-cert and --tls-key go together, and "
        "--tls-client-ca needs them");
  }
  for (auto [flag, path, out] :
       {std::tuple{"tls_cert", tls_cert, &config.tls.cert_chain},
        std::tuple{"tls_key", key, &config.tls.private_key},
        std::tuple{"tls_client_ca", ca, &config.tls.client_ca}}) {
    if (path.empty()) continue;
    absl::StatusOr<std::string> pem = ReadSmallFile(flag, path);
    if (!pem.ok()) return pem.status();  // NOT_FOUND: a runtime error
    *out = *std::move(pem);
  }
  if (const std::string file = absl::GetFlag(FLAGS_admin_token_file);
      !file.empty()) {
    absl::StatusOr<std::string> token = LoadAdminToken(file);
    if (!token.ok()) {
      return absl::Status(
          token.status().code(),
          absl::StrCat("--admin-token-file: ", token.status().message()));
    }
    config.admin_token = *std::move(token);
  }
  return absl::OkStatus();
}

// --metrics-listen and the limits on callers, connections and messages.
absl::Status LimitsFromFlags(const DaemonHost& host, DaemonConfig& config) {
  if (const std::string text = absl::GetFlag(FLAGS_metrics_listen);
      !text.empty()) {
    absl::StatusOr<ListenAddress> parsed = ParseListenAddress(text);
    if (!parsed.ok() || !parsed->is_tcp()) {
      return Usage(
          absl::StrCat("--metrics-listen=", text, ": expected HOST:PORT"));
    }
    config.metrics_listen = *parsed;
  }
  config.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  if (config.max_message_bytes < 1024) {
    return Usage("--max-message-bytes must be at least 1024");
  }
  absl::StatusOr<uint32_t> max_ports_per_owner =
      PortsPerOwner(absl::GetFlag(FLAGS_max_ports_per_owner), config.pool,
                    LeaseManagerOptions().max_ports_per_lease);
  if (!max_ports_per_owner.ok()) {
    return Usage(max_ports_per_owner.status().message());
  }
  config.max_ports_per_owner = *max_ports_per_owner;
  // The connection bound within the open-file limit, so that a flood of
  // clients is refused at accept instead of starving the probes and the
  // database.
  config.fd_limit = host.fd_limit;
  uint32_t unix_listeners = 0;
  for (const ListenAddress& address : config.listen_addresses) {
    if (!address.is_tcp()) ++unix_listeners;
  }
  absl::StatusOr<uint32_t> max_connections =
      ConnectionBudget(absl::GetFlag(FLAGS_max_connections), unix_listeners,
                       host.fd_limit.soft);
  if (!max_connections.ok()) return Usage(max_connections.status().message());
  config.max_connections = *max_connections;
  config.max_streams = absl::GetFlag(FLAGS_max_streams);
  if (absl::Status streams = CheckStreamBudget(config.max_streams);
      !streams.ok()) {
    return Usage(streams.message());
  }
  config.rate_limit = absl::GetFlag(FLAGS_rate_limit);
  config.rate_burst = absl::GetFlag(FLAGS_rate_burst);
  if (config.rate_limit < 0 ||
      (config.rate_limit > 0 && config.rate_burst < 1)) {
    return Usage("--rate-limit must be >= 0 and --rate-burst >= 1");
  }
  return absl::OkStatus();
}

// The lease manager's settings, which have no check of their own.
void LeaseRulesFromFlags(DaemonConfig& config) {
  config.default_ttl = absl::GetFlag(FLAGS_default_ttl);
  config.max_ttl = absl::GetFlag(FLAGS_max_ttl);
  config.cooldown = absl::GetFlag(FLAGS_cooldown);
  config.busy_backoff = absl::GetFlag(FLAGS_busy_backoff);
  config.max_leases_per_owner = absl::GetFlag(FLAGS_max_leases_per_owner);
  config.max_waiters = absl::GetFlag(FLAGS_max_waiters);
}

// --portserver-listen and --portserver-ttl, which must fit the TTL limits.
absl::Status PortserverFromFlags(DaemonConfig& config) {
  for (const std::string& item : absl::GetFlag(FLAGS_portserver_listen)) {
    for (absl::string_view part :
         absl::StrSplit(item, ',', absl::SkipEmpty())) {
      if (absl::Status s = CheckPortserverAddress(part); !s.ok()) {
        return Usage(absl::StrCat("--portserver-listen: ", s.message()));
      }
      config.portserver_listen.push_back(std::string(part));
    }
  }
  const std::string ttl = absl::GetFlag(FLAGS_portserver_ttl);
  if (ttl.empty()) {
    config.portserver_ttl = std::min(absl::Hours(24), config.max_ttl);
  } else if (!absl::ParseDuration(ttl, &config.portserver_ttl)) {
    return Usage(absl::StrCat("--portserver-ttl=", ttl,
                              ": expected a duration like 24h"));
  }
  const absl::Duration min_ttl = LeaseManagerOptions().min_ttl;
  if (config.portserver_ttl < min_ttl ||
      config.portserver_ttl > config.max_ttl) {
    return Usage(absl::StrCat(
        "--portserver-ttl=", absl::FormatDuration(config.portserver_ttl),
        " must be between ", absl::FormatDuration(min_ttl), " and --max-ttl=",
        absl::FormatDuration(config.max_ttl),
        ": lower --portserver-ttl or raise --max-ttl"));
  }
  return absl::OkStatus();
}

// A flag whose value is not its default (set on the command line, in a
// --flagfile, or by a test).
bool Changed(absl::string_view name) {
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  return flag != nullptr && flag->CurrentValue() != flag->DefaultValue();
}

// --store=etcd: what the single-host flags become on a replica. The flags
// that would change another host's kernel state or serve a local protocol
// are refused; the store's own settings are ignored with a warning.
absl::Status ReplicaRestrictions(DaemonConfig& config) {
  if (config.reserve_pool) {
    return Usage(
        "--reserve-pool=on does not go with --store=etcd: a replica may run "
        "on another host than the pool's; reserve the pool there "
        "(ip_local_reserved_ports) instead");
  }
  if (!config.portserver_listen.empty()) {
    return Usage(
        "--portserver-listen does not go with --store=etcd: portserver "
        "leases follow local processes, which other replicas cannot see");
  }
  for (const char* name : {"db", "durable", "db_sync", "audit_events",
                           "recovery_window", "claims_dir"}) {
    if (!Changed(name)) continue;
    std::string flag = absl::StrReplaceAll(name, {{"_", "-"}});
    config.warnings.push_back(
        absl::StrCat("--", flag,
                     " is ignored with --store=etcd: the leases "
                     "live in etcd"));
  }
  config.claims_dir.clear();
  config.claims_off_reason = "--store=etcd: replicas claim ports in etcd";
  return absl::OkStatus();
}

// --etcd-*, --pool-host: the cluster a replica keeps its leases in and
// whether it probes. Checked after the other flags, as they were before.
absl::Status ReplicaFromFlags(const DaemonHost& host, DaemonConfig& config) {
  const std::string endpoints = absl::GetFlag(FLAGS_etcd_endpoints);
  config.etcd_ca = absl::GetFlag(FLAGS_etcd_ca);
  config.etcd_cert = absl::GetFlag(FLAGS_etcd_cert);
  config.etcd_key = absl::GetFlag(FLAGS_etcd_key);
  config.etcd_prefix = absl::GetFlag(FLAGS_etcd_prefix);
  config.pool_host = absl::GetFlag(FLAGS_pool_host);
  if (config.store != StoreKind::kEtcd) {
    if (!endpoints.empty() || !config.etcd_ca.empty() ||
        !config.etcd_cert.empty() || !config.etcd_key.empty() ||
        !config.pool_host.empty() || Changed("etcd_prefix")) {
      return Usage("--etcd-* and --pool-host need --store=etcd");
    }
    return absl::OkStatus();
  }
  for (absl::string_view part :
       absl::StrSplit(endpoints, ',', absl::SkipEmpty())) {
    config.etcd_endpoints.push_back(std::string(part));
  }
  if (config.etcd_endpoints.empty()) {
    return Usage("--store=etcd needs --etcd-endpoints=URL[,URL...]");
  }
  if (config.etcd_cert.empty() != config.etcd_key.empty()) {
    return Usage("--etcd-cert and --etcd-key go together");
  }
  if (config.etcd_prefix.empty() || config.etcd_prefix.back() != '/') {
    return Usage(absl::StrCat("--etcd-prefix=", config.etcd_prefix,
                              ": expected a prefix ending in /"));
  }
  if (config.pool_host.empty() && config.probe != ProbeMode::kNone) {
    return Usage(
        "--store=etcd needs --pool-host=NAME (the host whose ports the pool "
        "is; its replica probes them) or --probe=none");
  }
  config.probe_pool =
      config.probe == ProbeMode::kSystem && config.pool_host == host.hostname;
  return ReplicaRestrictions(config);
}

}  // namespace

std::string ThisHostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

absl::StatusOr<DaemonConfig> DaemonConfigFromFlags(const DaemonHost& host) {
  DaemonConfig config;
  const std::string tls_cert = absl::GetFlag(FLAGS_tls_cert);
  if (absl::Status s = ListenFromFlags(!tls_cert.empty(), config); !s.ok()) {
    return s;
  }
  if (absl::Status s = PoolFromFlags(host, config); !s.ok()) return s;
  if (absl::Status s = StoreFromFlags(config); !s.ok()) return s;
  if (absl::Status s = SecurityFromFlags(tls_cert, config); !s.ok()) return s;
  if (absl::Status s = LimitsFromFlags(host, config); !s.ok()) return s;
  LeaseRulesFromFlags(config);
  if (absl::Status s = PortserverFromFlags(config); !s.ok()) return s;
  if (absl::Status s = ReplicaFromFlags(host, config); !s.ok()) return s;
  return config;
}

int DaemonExitCode(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument ? kExitUsage
                                                             : kExitRuntime;
}

}  // namespace portlease
