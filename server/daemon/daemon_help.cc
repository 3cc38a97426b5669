// portleased --help: a fixed head and tail around the OPTIONS, which come
// from the flag registry (the flags of daemon_flags.cc).
#include "server/daemon/daemon_help.h"

#include <cstdio>
#include <map>
#include <string>

#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "portlease/version.h"
#include "server/daemon/args.h"

namespace portlease {
namespace {

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

    Replicas (--store=etcd): several portleased share one pool whose leases
    live in an etcd cluster (--etcd-endpoints, --etcd-prefix); every grant
    is one etcd transaction, so no port is granted twice. Clients list the
    replicas in PORTLEASE_ADDR (unix:a.sock,unix:b.sock) and move to the
    next when one dies; a Hold stream re-attaches there within
    --hold-grace. Each lease carries a fencing token (the etcd revision
    that created it) that its holder sends back with Renew and Release.
    Only the replica on --pool-host probes ports before granting them.
    While etcd has no quorum, grants and renewals fail UNAVAILABLE and
    leases end at their TTL. Not implemented with etcd yet: the audit
    trail, the lease event log lines, drain, undrain, set-pool;
    --reserve-pool=on and
    --portserver-listen are refused, the SQLite flags ignored (a warning).
    One replica of a pool of host ci-host:
        portleased --store=etcd --etcd-endpoints=http://etcd1:2379 \
                   --pool-host=ci-host --listen=unix:/run/portlease/r1.sock

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
    /proc/sys/net/ipv4/ip_local_reserved_ports
        With --reserve-pool=on: the pool is added at start and after
        set-pool; what was added is removed at exit.
    /var/lib/portlease/leases.db.reserved-ports
        The ranges --reserve-pool=on added, so that a start after a crash
        removes them at exit too.
    /usr/lib/systemd/system/portleased.service
        The systemd unit: the default socket and database, user and group
        portlease, --reserve-pool=on, sandboxing.

EXIT STATUS
    0 after a shutdown on SIGTERM or SIGINT (leases stay in --db, or in
    etcd), or after --idle-exit; 1 runtime error (database, etcd, socket,
    bind, lock); 2 usage error (bad flag, a pool that does not fit, a flag
    missing for --store=etcd).

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
      {"store", "sqlite|memory|etcd"},
      {"etcd_endpoints", "URL[,URL...]"},
      {"etcd_ca", "FILE"},
      {"etcd_cert", "FILE"},
      {"etcd_key", "FILE"},
      {"etcd_prefix", "PREFIX"},
      {"pool_host", "NAME"},
      {"db_sync", "normal|full"},
      {"pool", "RANGES"},
      {"exclude", "PORTS"},
      {"always_exclude", "PORTS"},
      {"ephemeral", "refuse|trim|allow"},
      {"reserve_pool", "off|on"},
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
      {"portserver_listen", "@NAME|PATH[,...]"},
      {"portserver_ttl", "DURATION"},
  };
  return *names;
}

}  // namespace

bool IsHelpRequest(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "-help") return true;
  }
  return false;
}

void PrintDaemonHelp() {
  std::printf("%s%s%s", kHelpHead,
              FormatFlagHelp("server/", FlagValueNames()).c_str(), kHelpTail);
}

void InstallDaemonUsageConfig() {
  absl::SetProgramUsageMessage(
      "leases TCP (and UDP) ports of this host to CI jobs; see --help.");
  absl::FlagsUsageConfig usage;
  usage.version_string = [] {
    return absl::StrCat("portleased ", kVersion, "\n");
  };
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "server/daemon/daemon_flags.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
}

}  // namespace portlease
