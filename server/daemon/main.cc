// portleased: the port lease server. Wiring only: flags -> options -> store,
// prober, manager, server -> wait for SIGTERM/SIGINT -> exit code.
//
// Exit codes: 0 after a signalled shutdown, 2 for usage errors (bad flags,
// a pool that does not fit), 1 for runtime errors (store, bind, lock).
// --help is the man page's text: keep it complete when adding a flag.
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
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
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

ABSL_FLAG(std::vector<std::string>, listen,
          {"unix:/run/portlease/portleased.sock"},
          "Where to serve: unix:PATH or HOST:PORT (HOST:0 picks a free "
          "port). Repeat the flag or separate with commas. A missing socket "
          "directory is created (0755); sockets are made 0660, so only the "
          "server's user and --socket-group may connect.");
ABSL_FLAG(std::string, socket_group, "",
          "Group of the Unix sockets (name or number): its members may "
          "connect. Empty: the server's own group.");
ABSL_FLAG(bool, insecure_tcp, false,
          "Allow plaintext TCP on an address that is not loopback. Without "
          "TLS anyone who can reach the port can take every port.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain for TCP listeners (with --tls-key): TCP is "
          "then TLS, and may listen on any address.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls-cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA certificates: TCP clients must present a certificate "
          "signed by one of them (mutual TLS). Needs --tls-cert.");
ABSL_FLAG(std::string, admin_token_file, "",
          "File holding the admin token (at least 16 bytes; not readable by "
          "other users) required by ForceRelease, DrainPort, UndrainPort "
          "and SetPool as call metadata \"authorization: Bearer TOKEN\" "
          "(portlease admin --admin-token-file). Empty: admin RPCs are "
          "refused.");
ABSL_FLAG(uint32_t, max_leases_per_owner, 256,
          "Most live leases one caller may hold (the identity the transport "
          "proves: peer uid on a Unix socket, client certificate name, else "
          "TCP address); 0: no limit.");
ABSL_FLAG(int64_t, max_ports_per_owner, -1,
          "Most ports one caller (as for --max-leases-per-owner) may hold in "
          "live leases; 0: no limit; -1: a tenth of --pool (as given at "
          "start), but at least 64 (the largest lease).");
ABSL_FLAG(uint32_t, max_connections, 0,
          "Most open connections per Unix socket; more are closed as they "
          "arrive (the client retries). Must fit the open-file limit, which "
          "portleased raises to its hard limit at start, minus a reserve "
          "for probes and the database. 0: as many as that allows.");
ABSL_FLAG(uint32_t, max_streams, 100,
          "Most concurrent calls per connection (HTTP/2 streams); a client "
          "queues the calls beyond it.");
ABSL_FLAG(uint32_t, max_waiters, 1024,
          "Most Acquire requests waiting for ports at once.");
ABSL_FLAG(int32_t, max_message_bytes, 64 * 1024,
          "Largest request message accepted.");
ABSL_FLAG(double, rate_limit, 200,
          "Requests per second per caller (Unix: per peer uid and pid; TCP: "
          "per address); 0: no limit.");
ABSL_FLAG(double, rate_burst, 400,
          "Requests a caller may make at once above --rate-limit.");
ABSL_FLAG(std::string, metrics_listen, "",
          "Serve Prometheus metrics over HTTP at HOST:PORT/metrics (e.g. "
          "127.0.0.1:9464). Empty: no metrics endpoint.");
ABSL_FLAG(std::string, log_level, "info",
          "Least severe log lines written: debug (adds renewals), info, "
          "warning or error.");
ABSL_FLAG(std::string, db, "/var/lib/portlease/leases.db",
          "SQLite database holding the leases; its directory is created if "
          "missing. \":memory:\" keeps them in memory (lost on exit).");
ABSL_FLAG(bool, durable, true,
          "Keep leases in --db. --nodurable keeps them in memory only.");
ABSL_FLAG(std::string, db_sync, "normal",
          "normal: commits survive kill -9 of the server; full: they also "
          "survive power loss (one fsync per change).");
ABSL_FLAG(uint32_t, audit_events, 100000,
          "How many events of the audit trail the database keeps (each "
          "grant, renewal, release, expiry, drain and pool change, written "
          "with the change it records; `portlease events` reads them). 0: "
          "none.");
ABSL_FLAG(std::string, pool, "20000-29999",
          "Ports to lease: LO-HI[,LO-HI...]. `portlease admin set-pool` "
          "replaces it (and --exclude) until the next restart only.");
ABSL_FLAG(std::string, exclude, "",
          "Ports never leased: P or LO-HI, comma-separated (6379, 7001, "
          "8080, 8081 and 9090 are always excluded).");
ABSL_FLAG(std::string, ephemeral, "refuse",
          "When --pool overlaps the kernel's ephemeral port range "
          "(/proc/sys/net/ipv4/ip_local_port_range): refuse to start, trim "
          "the overlap out of the pool, or allow it.");
ABSL_FLAG(absl::Duration, default_ttl, absl::Seconds(60),
          "Lease time to live when a request names none.");
ABSL_FLAG(absl::Duration, max_ttl, absl::Hours(24),
          "Longest time to live granted. Lowering it never shortens a "
          "lease granted before: the new limit applies from its next "
          "renewal, and a renewal without a ttl is clamped to it.");
ABSL_FLAG(absl::Duration, hold_grace, absl::Seconds(2),
          "How long a lease survives its Hold stream breaking.");
ABSL_FLAG(std::string, recovery_window, "",
          "After lost state (the database holds fewer leases than DB.state "
          "recorded: deleted, emptied, a damaged WAL), grant nothing this "
          "long while running jobs re-attach their leases. When unset, "
          "twice --hold-grace; 0s: no window.");
ABSL_FLAG(absl::Duration, cooldown, absl::Seconds(30),
          "How long released or expired ports stay out of the pool.");
ABSL_FLAG(absl::Duration, busy_backoff, absl::Seconds(10),
          "How long a pool port found bound by another process stays out "
          "of the pool.");
ABSL_FLAG(std::string, probe, "system",
          "system: check that ports are really free before granting them; "
          "none: trust the pool (benchmarks and tests only).");
ABSL_FLAG(std::string, claims_dir, "",
          "Directory (mode 1777) shared by every portleased on this host, "
          "of any user: each server locks a byte per port it holds in its "
          "files, so no two servers grant the same port; a dead server's "
          "claims vanish with it. Created when missing. Empty: "
          "/tmp/.portlease-claims, or off with --probe=none. \"off\": no "
          "claims (a server whose --pool is leased from another portleased "
          "needs it, or a directory of its own). A directory that is not "
          "mode 1777, or files that cannot be opened, turn claims off with "
          "a warning (see portlease status).");
ABSL_FLAG(absl::Duration, idle_exit, absl::ZeroDuration(),
          "Exit (status 0) after this long with no live lease and no "
          "client: no RPC and no open Hold stream. 0: never. lease-run "
          "starts its private portleased with 15m.");
ABSL_FLAG(int, ready_fd, -1,
          "Once serving, write \"ready ADDRESS...\\n\" to this file "
          "descriptor and close it.");

namespace portlease {
namespace {


// A whole small file (PEM, tokens). NOT_FOUND naming the flag and path.
absl::StatusOr<std::string> ReadSmallFile(absl::string_view flag,
                                          const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("--", flag, "=", path, ": cannot read the file"));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
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
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

// --help, with the OPTIONS from the flag registry in between; the man page
// portleased(8) is made from it (ci/man/help-to-man.awk).
constexpr char kHelpHead[] = R"(NAME
    portleased - lease TCP (and UDP) ports of this host to CI jobs

SYNOPSIS
    portleased [--listen=unix:PATH|HOST:PORT]... [--db=FILE] [--pool=RANGES]
               [OPTIONS]

DESCRIPTION
    portleased owns a pool of this host's ports and hands out leases: a
    contiguous block of ports from --pool, named or counted, owned by a
    client that renews it (or keeps a Hold stream open) and releases it.
    Leases are stored in --db before they are acknowledged, so they survive
    a restart; ports are checked to be really free (not bound by any process,
    not in the kernel's socket tables) before they are granted. A client that
    dies loses its lease after --hold-grace; one that hangs, at its TTL.
    Released ports cool down for --cooldown before they are granted again.

    Lost state: a database that fails SQLite's quick_check is refused
    (DATA_LOSS, left untouched). DB.state records how many leases the
    server holds; a database that holds fewer at start (deleted, emptied,
    a damaged WAL) starts a recovery window (--recovery-window) in which
    nothing is granted while the clients holding leases re-attach them
    (their Hold and Renew carry the lease). After any restart, a lease
    whose Hold stream was open is reclaimed one --hold-grace later unless
    its holder attaches again.

    Clients are lease-run(1), portlease(1) and the C++ client library. They
    find the server through PORTLEASE_ADDR, else at the system socket
    unix:/run/portlease/portleased.sock, else they start a private
    portleased for their user.

    Security: a Unix socket is made mode 0660 (group: --socket-group, else
    the server's), so its owner and group may connect; the packaged systemd
    unit runs portleased as user and group portlease, so members of the
    group portlease can lease ports. The server records each Unix caller's
    uid, pid and user in the lease owner (peer_uid, peer_pid, peer_user),
    which the client cannot forge. A lease's id is the only key to renew,
    hold or release it. Admin RPCs need the token of --admin-token-file. A
    TCP listener beyond loopback needs TLS (--tls-cert, --tls-key) or
    --insecure-tcp. Limits: --max-leases-per-owner, --max-ports-per-owner,
    --max-waiters, --max-message-bytes, --rate-limit/--rate-burst (every
    message of a Hold stream counts), --max-connections, --max-streams, 64
    ports per lease, List pages of at most 1000 leases and 1 MiB.

    File descriptors: at start the soft open-file limit is raised to the
    hard limit (both are logged) and --max-connections must fit within it,
    minus a reserve for probes and the database. A probe that finds the
    server out of descriptors or memory fails the Acquire with UNAVAILABLE
    ("server out of file descriptors ..."); no port is marked busy for it.

    Every lease event (grant, renew, release, expiry, a holder lost, a port
    draining or found busy) is one line on standard error: timestamp, level,
    event, lease id prefix, ports, owner.

    Administration (portlease admin, with the token of --admin-token-file):
    force-release a lease; drain a port (take it out of service) and undrain
    it: drained ports are stored in --db and stay drained across restarts;
    set-pool replaces --pool and --exclude while the server runs. A pool set
    that way is runtime only: a restart applies --pool and --exclude again,
    so that the configuration stays the one place that says what the pool
    is; put the new values there to keep them. Leases on ports that leave
    the pool stay valid until released or expired; their ports are not
    granted again.

OPTIONS
)";

constexpr char kHelpTail[] = R"(    -h, --help
        Show this text.
    --version
        Show the version.
    --flagfile=FILE
        Read more flags from FILE, one --name=value per line.

ENVIRONMENT
    GRPC_VERBOSITY, GRPC_TRACE
        gRPC's own logging; its messages appear in the log as "grpc:" lines.

FILES
    /run/portlease/portleased.sock
        The default socket; a lock file PATH.lock next to each socket keeps
        a second portleased from taking it over.
    /var/lib/portlease/leases.db
        The default database (SQLite, WAL mode, held exclusively: no -shm
        file, no other reader while the server runs).
    /var/lib/portlease/leases.db.state
        The live lease count last recorded, to find lost leases at start.
    /tmp/.portlease-claims/tcp, /tmp/.portlease-claims/udp
        Host-wide claims (--claims-dir): every portleased on the host locks
        byte P of these files while it holds port P (leased, draining,
        cooling down), so no two of them grant the same port.
    /usr/lib/systemd/system/portleased.service
        The systemd unit: the default socket and database, user and group
        portlease, sandboxing.

EXIT STATUS
    0 after a shutdown on SIGTERM or SIGINT (leases stay in --db), or after
    --idle-exit; 1 runtime error (database, socket, bind, lock); 2 usage
    error (bad flag, a pool that does not fit).

EXAMPLES
    portleased
    portleased --listen=unix:/tmp/pl/sock --db=:memory: --pool=21000-21999
    portleased --listen=127.0.0.1:7700 --ephemeral=trim
    portleased --socket-group=ci --metrics-listen=127.0.0.1:9464 \
               --admin-token-file=/etc/portlease/admin-token
    portleased --listen=unix:/run/portlease/portleased.sock \
               --listen=0.0.0.0:7700 --tls-cert=server.pem --tls-key=server.key
    systemctl enable --now portleased && usermod -aG portlease ci

SEE ALSO
    lease-run(1), portlease(1), systemd.exec(5)
)";

// Value names in the OPTIONS section, where the type says too little.
const std::map<std::string, std::string>& FlagValueNames() {
  static const auto* names = new std::map<std::string, std::string>{
      {"listen", "ADDRESS[,ADDRESS...]"},
      {"db", "FILE"},
      {"db_sync", "normal|full"},
      {"pool", "RANGES"},
      {"exclude", "PORTS"},
      {"ephemeral", "refuse|trim|allow"},
      {"probe", "system|none"},
      {"claims_dir", "DIR|off"},
      {"ready_fd", "FD"},
      {"idle_exit", "DURATION"},
      {"recovery_window", "DURATION"},
      {"socket_group", "GROUP"},
      {"tls_cert", "FILE"},
      {"tls_key", "FILE"},
      {"tls_client_ca", "FILE"},
      {"admin_token_file", "FILE"},
      {"rate_limit", "PER_SECOND"},
      {"metrics_listen", "HOST:PORT"},
      {"log_level", "LEVEL"},
  };
  return *names;
}

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

int ExitCodeFor(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument ? kExitUsage
                                                             : kExitRuntime;
}

absl::StatusOr<EphemeralPolicy> ParsePolicy(absl::string_view text) {
  if (text == "refuse") return EphemeralPolicy::kRefuse;
  if (text == "trim") return EphemeralPolicy::kTrim;
  if (text == "allow") return EphemeralPolicy::kAllow;
  return absl::InvalidArgumentError(
      absl::StrCat("--ephemeral=", text, ": expected refuse, trim or allow"));
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
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      std::printf("%s%s%s", kHelpHead,
                  FormatFlagHelp("server/", FlagValueNames()).c_str(),
                  kHelpTail);
      return 0;
    }
  }
  absl::SetProgramUsageMessage(
      "leases TCP (and UDP) ports of this host to CI jobs; see --help.");
  absl::FlagsUsageConfig usage;
  usage.version_string = [] {
    return absl::StrCat("portleased ", kVersion, "\n");
  };
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "server/daemon/main.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);

  absl::StatusOr<std::vector<std::string>> args =
      PrepareArgs(std::vector<std::string>(argv, argv + argc), {"listen"});
  if (!args.ok())
    return Fail({kExitUsage, std::string(args.status().message())});
  std::vector<char*> arg_pointers;
  for (std::string& arg : *args) arg_pointers.push_back(arg.data());
  absl::ParseCommandLine(static_cast<int>(arg_pointers.size()),
                         arg_pointers.data());

  // Listen addresses.
  std::vector<std::string> listen;
  for (const std::string& item : absl::GetFlag(FLAGS_listen)) {
    for (absl::string_view part :
         absl::StrSplit(item, ',', absl::SkipEmpty())) {
      absl::StatusOr<ListenAddress> address = ParseListenAddress(part);
      if (!address.ok())
        return Fail({kExitUsage, std::string(address.status().message())});
      absl::Status exposure = CheckTransportSecurity(
          *address, !absl::GetFlag(FLAGS_tls_cert).empty(),
          absl::GetFlag(FLAGS_insecure_tcp));
      if (!exposure.ok()) {
        return Fail({kExitUsage, std::string(exposure.message())});
      }
      listen.push_back(std::string(part));
    }
  }
  if (listen.empty()) return Fail({kExitUsage, "--listen is empty"});

  // The pool.
  absl::StatusOr<std::vector<PortRange>> pool =
      ParsePortRanges(absl::GetFlag(FLAGS_pool));
  if (!pool.ok())
    return Fail(
        {kExitUsage, absl::StrCat("--pool: ", pool.status().message())});
  std::vector<Port> exclude;
  if (!absl::GetFlag(FLAGS_exclude).empty()) {
    absl::StatusOr<std::vector<Port>> parsed =
        ParsePortList(absl::GetFlag(FLAGS_exclude));
    if (!parsed.ok())
      return Fail(
          {kExitUsage, absl::StrCat("--exclude: ", parsed.status().message())});
    exclude = *std::move(parsed);
  }
  absl::StatusOr<EphemeralPolicy> policy =
      ParsePolicy(absl::GetFlag(FLAGS_ephemeral));
  if (!policy.ok())
    return Fail({kExitUsage, std::string(policy.status().message())});
  absl::StatusOr<PortRange> ephemeral = ReadEphemeralPortRange("/proc");
  if (!ephemeral.ok()) {
    if (*policy != EphemeralPolicy::kAllow) {
      return Fail({kExitRuntime,
                   absl::StrCat("cannot read the ephemeral port range: ",
                                ephemeral.status().message(),
                                " (pass --ephemeral=allow to start anyway)")});
    }
    ephemeral = PortRange{0, 0};  // nothing to fit around
  }
  absl::StatusOr<std::vector<PortRange>> fitted =
      FitPool(*std::move(pool), *ephemeral, *policy);
  if (!fitted.ok())
    return Fail({kExitUsage, std::string(fitted.status().message())});

  const std::string db_sync = absl::GetFlag(FLAGS_db_sync);
  if (db_sync != "normal" && db_sync != "full") {
    return Fail({kExitUsage, absl::StrCat("--db-sync=", db_sync,
                                          ": expected normal or full")});
  }
  const std::string probe = absl::GetFlag(FLAGS_probe);
  if (probe != "system" && probe != "none") {
    return Fail({kExitUsage,
                 absl::StrCat("--probe=", probe, ": expected system or none")});
  }
  const int ready_fd = absl::GetFlag(FLAGS_ready_fd);
  const absl::Duration idle_exit = absl::GetFlag(FLAGS_idle_exit);
  if (idle_exit < absl::ZeroDuration()) {
    return Fail({kExitUsage, "--idle-exit must not be negative"});
  }
  absl::Duration recovery_window = 2 * absl::GetFlag(FLAGS_hold_grace);
  if (const std::string text = absl::GetFlag(FLAGS_recovery_window);
      !text.empty() && (!absl::ParseDuration(text, &recovery_window) ||
                        recovery_window < absl::ZeroDuration())) {
    return Fail({kExitUsage, absl::StrCat("--recovery-window=", text,
                                          ": expected a duration like 4s")});
  }

  // Security and observability settings.
  absl::StatusOr<LogLevel> log_level =
      ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!log_level.ok())
    return Fail({kExitUsage, std::string(log_level.status().message())});
  gid_t socket_group = static_cast<gid_t>(-1);
  if (!absl::GetFlag(FLAGS_socket_group).empty()) {
    absl::StatusOr<gid_t> gid = ParseGroup(absl::GetFlag(FLAGS_socket_group));
    if (!gid.ok())
      return Fail({kExitUsage, std::string(gid.status().message())});
    socket_group = *gid;
  }
  ServerOptions::Tls tls;
  {
    const std::string cert = absl::GetFlag(FLAGS_tls_cert);
    const std::string key = absl::GetFlag(FLAGS_tls_key);
    const std::string ca = absl::GetFlag(FLAGS_tls_client_ca);
    if (cert.empty() != key.empty() || (!ca.empty() && cert.empty())) {
      return Fail({kExitUsage,
                   "--tls-cert and --tls-key go together, and "
                   "--tls-client-ca needs them"});
    }
    for (auto [flag, path, out] :
         {std::tuple{"tls_cert", cert, &tls.cert_chain},
          std::tuple{"tls_key", key, &tls.private_key},
          std::tuple{"tls_client_ca", ca, &tls.client_ca}}) {
      if (path.empty()) continue;
      absl::StatusOr<std::string> pem = ReadSmallFile(flag, path);
      if (!pem.ok())
        return Fail({kExitRuntime, std::string(pem.status().message())});
      *out = *std::move(pem);
    }
  }
  std::string admin_token;
  if (!absl::GetFlag(FLAGS_admin_token_file).empty()) {
    absl::StatusOr<std::string> token =
        LoadAdminToken(absl::GetFlag(FLAGS_admin_token_file));
    if (!token.ok()) {
      return Fail({ExitCodeFor(token.status()),
                   absl::StrCat("--admin-token-file: ",
                                token.status().message())});
    }
    admin_token = *std::move(token);
  }
  const std::string metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  std::optional<ListenAddress> metrics_address;
  if (!metrics_listen.empty()) {
    absl::StatusOr<ListenAddress> parsed = ParseListenAddress(metrics_listen);
    if (!parsed.ok() || !parsed->is_tcp()) {
      return Fail({kExitUsage, absl::StrCat("--metrics-listen=", metrics_listen,
                                            ": expected HOST:PORT")});
    }
    metrics_address = *parsed;
  }
  if (absl::GetFlag(FLAGS_max_message_bytes) < 1024) {
    return Fail({kExitUsage, "--max-message-bytes must be at least 1024"});
  }
  absl::StatusOr<uint32_t> max_ports_per_owner = PortsPerOwner(
      absl::GetFlag(FLAGS_max_ports_per_owner), *fitted,
      LeaseManagerOptions().max_ports_per_lease);
  if (!max_ports_per_owner.ok()) {
    return Fail(
        {kExitUsage, std::string(max_ports_per_owner.status().message())});
  }
  // Descriptors: the soft limit up to the hard one, then the connection
  // bound within it, so that a flood of clients is refused at accept
  // instead of starving the probes and the database.
  const FdLimit fd_limit = RaiseFdLimit();
  size_t unix_listeners = 0;
  for (const std::string& text : listen) {
    if (!ParseListenAddress(text)->is_tcp()) ++unix_listeners;
  }
  absl::StatusOr<uint32_t> max_connections =
      ConnectionBudget(absl::GetFlag(FLAGS_max_connections),
                       static_cast<uint32_t>(unix_listeners), fd_limit.soft);
  if (!max_connections.ok()) {
    return Fail({kExitUsage, std::string(max_connections.status().message())});
  }
  if (absl::Status streams =
          CheckStreamBudget(absl::GetFlag(FLAGS_max_streams));
      !streams.ok()) {
    return Fail({kExitUsage, std::string(streams.message())});
  }
  if (absl::GetFlag(FLAGS_rate_limit) < 0 ||
      (absl::GetFlag(FLAGS_rate_limit) > 0 &&
       absl::GetFlag(FLAGS_rate_burst) < 1)) {
    return Fail({kExitUsage,
                 "--rate-limit must be >= 0 and --rate-burst >= 1"});
  }

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
  for (const std::string& text : listen) {
    ListenAddress address = *ParseListenAddress(text);
    if (address.is_tcp()) continue;
    absl::Status dir = MakeDirs(DirOf(address.path), 0755);
    if (!dir.ok()) return Fail({kExitRuntime, std::string(dir.message())});
    absl::StatusOr<std::unique_ptr<LockFile>> lock = LockSocket(address.path);
    if (!lock.ok())
      return Fail({kExitRuntime, std::string(lock.status().message())});
    daemon.socket_locks.push_back(*std::move(lock));
  }

  const std::string db = absl::GetFlag(FLAGS_db);
  const bool durable = absl::GetFlag(FLAGS_durable) && db != ":memory:";
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
    sqlite.synchronous = db_sync == "full"
                             ? SqliteOptions::Synchronous::kFull
                             : SqliteOptions::Synchronous::kNormal;
    sqlite.max_events = absl::GetFlag(FLAGS_audit_events);
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
        std::make_unique<MemoryLeaseStore>(absl::GetFlag(FLAGS_audit_events));
  }
  if (probe == "system") {
    daemon.prober = std::make_unique<SystemProber>();
  } else {
    daemon.prober = std::make_unique<TrustingProber>();
  }

  // Host-wide claims: a problem with the shared directory is reported, not
  // fatal (README, "Host-wide claims").
  ClaimsState claims_state;
  std::string dir = absl::GetFlag(FLAGS_claims_dir);
  if (dir.empty()) dir = probe == "none" ? "off" : kDefaultClaimsDir;
  if (dir == "off") {
    claims_state.off_reason = absl::GetFlag(FLAGS_claims_dir).empty()
                                  ? "--probe=none trusts the pool"
                                  : "--claims-dir=off";
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
  options.pool = *fitted;
  options.exclude = exclude;
  options.default_ttl = absl::GetFlag(FLAGS_default_ttl);
  options.max_ttl = absl::GetFlag(FLAGS_max_ttl);
  options.hold_grace = absl::GetFlag(FLAGS_hold_grace);
  options.cooldown = absl::GetFlag(FLAGS_cooldown);
  options.busy_backoff = absl::GetFlag(FLAGS_busy_backoff);
  options.max_leases_per_owner = absl::GetFlag(FLAGS_max_leases_per_owner);
  options.max_ports_per_owner = *max_ports_per_owner;
  options.max_waiters = absl::GetFlag(FLAGS_max_waiters);
  options.claims = daemon.claims.get();
  LogWriter* log = daemon.log.get();
  LeaseMetrics* metrics = daemon.metrics.get();
  const LogLevel min_level = *log_level;
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
    return Fail({ExitCodeFor(manager.status()),
                 std::string(manager.status().message())});
  }
  daemon.manager = *std::move(manager);
  // Lost state (README, "When the server loses its state"): found by
  // comparing the database with DB.state, repaired by the holders.
  if (durable) {
    CheckForLostState(
        db, recorded, db_was_missing, recovery_window, daemon.manager.get(),
        daemon.recording.get(), [log](std::string message) {
          log->Write(FormatLogLine(absl::Now(), "ERROR", message));
        });
  }

  ServerOptions server_options;
  server_options.listen = listen;
  server_options.service.manager = daemon.manager.get();
  server_options.service.clock = &daemon.clock;
  server_options.service.version = kVersion;
  server_options.service.claims = claims_state;
  server_options.service.admin_token = admin_token;
  server_options.service.ephemeral = *ephemeral;
  server_options.service.ephemeral_policy = *policy;
  server_options.service.on_acquire_done =
      [metrics](const absl::Status& status, absl::Duration latency) {
        metrics->OnAcquireDone(status, latency);
      };
  server_options.unix_socket_group = socket_group;
  server_options.tls = tls;
  server_options.allow_insecure_tcp = absl::GetFlag(FLAGS_insecure_tcp);
  server_options.max_receive_message_bytes =
      absl::GetFlag(FLAGS_max_message_bytes);
  server_options.rate_limit.per_second = absl::GetFlag(FLAGS_rate_limit);
  server_options.rate_limit.burst = absl::GetFlag(FLAGS_rate_burst);
  server_options.max_connections = *max_connections;
  server_options.max_streams = absl::GetFlag(FLAGS_max_streams);
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
      return Fail({ExitCodeFor(server.status()), message});
    }
  }
  daemon.server = *std::move(server);
  daemon.metrics->WatchManager(daemon.manager.get());
  std::string metrics_url;
  if (metrics_address.has_value()) {
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> http =
        MetricsHttpServer::Start(metrics_address->host, metrics_address->port,
                                 &daemon.registry);
    if (!http.ok()) {
      daemon.server->Shutdown(absl::ZeroDuration());
      return Fail({kExitRuntime, std::string(http.status().message())});
    }
    daemon.metrics_http = *std::move(http);
    ListenAddress bound = *metrics_address;
    bound.port = static_cast<uint16_t>(daemon.metrics_http->port());
    metrics_url = absl::StrCat("http://", bound.ToString(), "/metrics");
  }

  const std::string addresses = absl::StrJoin(daemon.server->addresses(), " ");
  uint32_t pool_size = 0;
  for (const PortRange& range : *fitted) pool_size += range.size();
  log->Write(FormatLogLine(
      absl::Now(), "INFO",
      absl::StrCat("portleased ", kVersion, " serving ", addresses,
                   " pool=", FormatPortRanges(*fitted), " (", pool_size,
                   " ports) db=", durable ? db : ":memory:", " probe=", probe,
                   " claims=", claims_state.enabled ? claims_state.dir : "off",
                   metrics_url.empty() ? "" : " metrics=", metrics_url,
                   " admin=", admin_token.empty() ? "off" : "token",
                   " tls=", tls.cert_chain.empty() ? "off"
                            : tls.client_ca.empty() ? "on" : "mutual",
                   idle_exit > absl::ZeroDuration() ? " idle_exit=" : "",
                   idle_exit > absl::ZeroDuration()
                       ? absl::FormatDuration(idle_exit)
                       : "",
                   " nofile=", fd_limit.soft, " (was ", fd_limit.before,
                   ", hard ", fd_limit.hard, ") max_connections=",
                   *max_connections, " max_streams=",
                   absl::GetFlag(FLAGS_max_streams), " max_ports_per_owner=",
                   *max_ports_per_owner, " pid=", getpid())));
  if (const uint32_t drained = daemon.manager->Stats().disabled; drained > 0) {
    log->Write(FormatLogLine(
        absl::Now(), "WARN",
        absl::StrCat(drained, " pool ports stay drained (stored in the "
                              "database); `portlease admin undrain PORT` "
                              "puts one back in service")));
  }
  if (ready_fd >= 0) {
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
