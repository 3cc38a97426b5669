// portleased's command-line flags, all in this one file: --help lists the
// flags of this file (daemon_help.cc), in the man page portleased(8) too.
// Keep each help text complete when adding a flag.
#include "server/daemon/daemon_flags.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/time/time.h"

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
ABSL_FLAG(std::string, store, "sqlite",
          "Where the leases live. sqlite: in --db (in memory with "
          "--nodurable or --db=:memory:). memory: in memory only, lost on "
          "exit. etcd: in the etcd cluster of --etcd-endpoints, shared by "
          "every portleased started with the same endpoints, --etcd-prefix "
          "and --pool: each is a replica, clients list several of them in "
          "PORTLEASE_ADDR and move to another when one dies. Needs "
          "--pool-host (or --probe=none). Not with etcd (a start-up error): "
          "--reserve-pool=on, --portserver-listen. Ignored with a warning: "
          "--db, --nodurable, --db-sync, --audit-events, --recovery-window, "
          "--claims-dir. Not implemented with etcd yet: the audit trail "
          "(portlease events), drain, undrain and set-pool (UNIMPLEMENTED).");
ABSL_FLAG(std::string, etcd_endpoints, "",
          "--store=etcd: the client URLs of the etcd members, "
          "comma-separated (http://HOST:PORT, https://HOST:PORT or "
          "HOST:PORT). Required with --store=etcd.");
ABSL_FLAG(std::string, etcd_ca, "",
          "--store=etcd: PEM CA certificates the etcd members' certificates "
          "must be signed by; makes the connections TLS.");
ABSL_FLAG(std::string, etcd_cert, "",
          "--store=etcd: PEM client certificate presented to etcd (with "
          "--etcd-key).");
ABSL_FLAG(std::string, etcd_key, "", "PEM private key of --etcd-cert.");
ABSL_FLAG(std::string, etcd_prefix, "/portlease/",
          "--store=etcd: the key prefix the leases live under; replicas "
          "sharing one pool share it, another pool needs another prefix.");
ABSL_FLAG(std::string, pool_host, "",
          "--store=etcd: the name (as gethostname says) of the machine whose "
          "ports the pool is. The replica running there probes ports before "
          "granting them (--probe=system); the others cannot see that "
          "host's sockets, skip the probe, and say so once at start. "
          "Required with --store=etcd unless --probe=none.");
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
          "Ports never leased: P or LO-HI, comma-separated (besides "
          "--always-exclude). `portlease admin set-pool` replaces it.");
ABSL_FLAG(std::string, always_exclude, "6379,7001,8080,8081,9090",
          "Ports never leased whatever --exclude or `portlease admin "
          "set-pool` say: P or LO-HI, comma-separated; \"\": none. The "
          "default keeps the M2 example stack's default ports (Redis, TTS "
          "worker, orchestrator, health, metrics) free for services started "
          "with their default configuration.");
ABSL_FLAG(std::string, ephemeral, "refuse",
          "When --pool overlaps the kernel's ephemeral port range "
          "(/proc/sys/net/ipv4/ip_local_port_range): refuse to start, trim "
          "the overlap out of the pool, or allow it.");
ABSL_FLAG(std::string, reserve_pool, "off",
          "on: add the pool to the kernel's reserved ports "
          "(/proc/sys/net/ipv4/ip_local_reserved_ports, of this network "
          "namespace) at start and after each `portlease admin set-pool`, "
          "and remove what was added at exit, leaving other entries alone. "
          "bind(0) and outgoing connections then never take a pool port, "
          "which makes --ephemeral=allow safe. Needs root or CAP_NET_ADMIN; "
          "not for the private server lease-run starts. off: the file is "
          "not touched.");
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
ABSL_FLAG(std::vector<std::string>, portserver_listen, {},
          "Also speak Google's portserver protocol here, so that portpicker "
          "users (PORTSERVER_ADDRESS) get leases: @NAME (Linux abstract "
          "socket, as portserver and portpicker write it) or a socket path "
          "(made like the --listen sockets). Repeat the flag or separate "
          "with commas. Each answer is a one-port lease, listed with owner "
          "client=portserver and the pid asked for, that ends when that "
          "process exits or at --portserver-ttl. An @NAME another process "
          "serves already is skipped with a warning.");
ABSL_FLAG(std::string, portserver_ttl, "",
          "Time to live of a --portserver-listen lease: it ends then even if "
          "its process still runs. At most --max-ttl. Unset: 24h, or "
          "--max-ttl when that is shorter.");
ABSL_FLAG(int, ready_fd, -1,
          "Once serving, write \"ready ADDRESS...\\n\" to this file "
          "descriptor and close it.");
