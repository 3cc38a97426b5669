// `lease-run --help`: the usage text, one constant.
#include "lease_run/lease_run.h"

namespace portlease {
namespace {

constexpr char kLeaseRunUsage[] = R"(NAME
    lease-run - run a command with leased TCP ports in its environment

SYNOPSIS
    lease-run [--ports NAME,... | --count N | --profile FILE] [OPTIONS] -- COMMAND [ARG...]
    lease-run [--ports ... | --profile ...] --env-file FILE --detach
              [--watch-ctest | --watch-pid PID [--watch-start-time T]]
              [--max-hold DURATION] [--reuse-environment]
              [--ctest-fixture NAME --ctest-fixtures FILE]
    lease-run --release-env-file FILE
    lease-run (--compose | --compose-file FILE...) [OPTIONS] -- COMMAND [ARG...]
    lease-run (--compose | --compose-file FILE...) --compose-print
    lease-run [--ports ... | --profile ...] --ctest-resource-spec FILE --blocks N
              -- COMMAND [ARG...]

DESCRIPTION
    Leases a block of free ports from portleased, runs COMMAND with them in
    its environment, keeps the lease alive while COMMAND runs and releases it
    when COMMAND exits. Exits with COMMAND's status (128+N when killed by
    signal N). SIGINT, SIGTERM and SIGHUP are forwarded to COMMAND's process
    group. If lease-run is killed, the server reclaims the lease.

    When the server restarts, lease-run rides it out: the Hold stream is
    reopened at once and then every 0.5s at most, and calls are retried
    until --connect-timeout. A command that ends while the server is down
    leaves a lease lease-run cannot release: one line says so, and the
    server ends that lease one hold grace after it is back.

    Where the server is: PORTLEASE_ADDR when set; else the system socket
    when it exists (it must answer: a socket that refuses this user, or a
    server that does not answer within --connect-timeout, is an error
    naming the socket and the fix, never a reason to start a second
    server); else a private per-user portleased, started on first use.

    COMMAND sees, for each port NAME, NAME_PORT (upper case, '-' as '_'), or
    PORT_0, PORT_1... with --count; PORTLEASE_LEASE_ID; PORTLEASE_PORTS (the
    ports, space-separated, in request order); COMPOSE_PROJECT_NAME unique
    to the lease unless already set; and a profile's derived variables.

OPTIONS
    --ports NAME,...        Port names, each [a-z][a-z0-9_-]{0,31}.
                            The variable a port becomes (NAME_PORT, or its
                            profile env name) and a profile variable's name
                            are [A-Za-z_][A-Za-z0-9_]* and not PATH, HOME,
                            SHELL, USER, LD_*, PORTLEASE_*,
                            COMPOSE_PROJECT_NAME or PORT_<n>.
    --count N               N unnamed ports.
    --profile FILE          A port profile (JSON or protobuf text format)
                            declaring ports, their variables and derived
                            variables, e.g. ci/m2/ports.json.
    --render TEMPLATE:OUTPUT
                            Write OUTPUT from TEMPLATE with ${VAR} and
                            ${VAR:-default} replaced by the lease's variables
                            or the environment. Repeatable. An unknown
                            variable without default is an error.
    --env-file PATH         Also write the variables to PATH, mode 0600, as
                            KEY='value' lines (shell quoting, so
                            `set -a; . PATH` reads them back), and export
                            PORTLEASE_ENV_FILE=PATH. PATH is removed when
                            the lease ends.
    --wait DURATION         When the pool is busy, wait up to DURATION
                            (e.g. 5m) instead of failing.
    --ttl DURATION          Lease time to live (default: the server's);
                            renewed every ttl/3.
    --udp                   Also require the ports to be free for UDP.
    --listen-fds            Bind every leased port (TCP, listening) on
                            --listen-host before COMMAND starts, and pass
                            the sockets as systemd does (sd_listen_fds(3)):
                            fds 3, 4, ... in the order of the ports,
                            LISTEN_FDS=N, LISTEN_PID=COMMAND's pid and
                            LISTEN_FDNAMES=the port names joined by ':'
                            (p0:p1:... with --count). No other process can
                            take a port in between. A port that cannot be
                            bound is a one-line error naming it (exit 75
                            when in use, else 1) and the lease is released.
                            Not with --udp, --detach or
                            --ctest-resource-spec.
    --listen-host ADDRESS   The literal IPv4 or IPv6 address --listen-fds
                            binds (default 127.0.0.1; 0.0.0.0 or :: for
                            every address).
    --connect-timeout DURATION
                            How long to keep trying while portleased cannot
                            be reached (no socket, connection refused or
                            reset: a server restarting), retrying with
                            backoff (default 10s, or
                            $PORTLEASE_CONNECT_TIMEOUT). A retried acquire
                            keeps its request id, so it is never granted
                            twice.
    --on-lease-loss term|warn
                            What happens when the lease is lost while
                            COMMAND runs: it expired, an administrator
                            force-released it, or the server was unreachable
                            for its hold grace (2s). lease-run always prints
                            one line on stderr at once. term (default):
                            SIGTERM to COMMAND's process group (SIGKILL 10s
                            later) and exit 75 once it has ended. warn:
                            COMMAND keeps running and lease-run exits with
                            its status. Either way lease-run keeps holding
                            the lease: when the server comes back with it (a
                            restarted server keeps leases in its database),
                            it is held again and lease-run says so.
    -h, --help              Show this text.
    --version               Print lease-run's version.
    --quiet                 No "lease-run: leased ..." line when the command
                            starts (errors are still printed).

COMPOSE STACKS
    --compose               Lease every port the docker compose project in
                            the working directory publishes, as compose
                            would read it: $COMPOSE_FILE (':'-separated;
                            also from ./.env), else compose.yaml, compose.yml,
                            docker-compose.yaml or docker-compose.yml plus
                            its override file.
    --compose-file FILE     These files instead, merged in order
                            (repeatable; implies --compose).
                            Every ports entry, short or long syntax, ranges,
                            /udp, ${VAR:-default} (from the environment and
                            the project's .env), is leased in one lease, one
                            port per target port, named <service>_<target>
                            (variables SERVICE_TARGET_PORT); an entry with a
                            container port only is leased and pinned too.
                            COMMAND gets COMPOSE_FILE naming the merged files
                            rewritten with the leased ports (host IP and
                            protocol kept), written next to the first file
                            as .portlease-compose.<lease>.<pid>.yml and
                            removed when the lease ends; a file left by a
                            killed lease-run goes at the next --compose run
                            there. An entry that is not a port or range, a
                            YAML error, or more than 64 ports: one line
                            naming file, service and entry, exit 2, no
                            lease. Not with --ports, --count, --profile,
                            --listen-fds or the CTest modes.
    --compose-print         Print the rewritten file on stdout, release the
                            lease and exit 0 (implies --compose).

CTEST FIXTURES (see ctest/PortLease.cmake)
    --detach                No COMMAND: acquire, write --env-file (with
                            PORTLEASE_HOLDER_PID and
                            PORTLEASE_HOLDER_START_TIME added), and return,
                            leaving a detached holder process (log in
                            FILE.holder.log) that keeps the lease alive until
                            the watched process is gone, --release-env-file,
                            or --max-hold, and then removes FILE. An
                            earlier holder of the same FILE is ended first.
    --watch-ctest           Watch the nearest ancestor process named ctest
                            (the parent when there is none).
    --watch-pid PID         Watch process PID ...
    --watch-start-time T    ... which started at T (field 22 of
                            /proc/PID/stat), so a reused pid is not mistaken
                            for it.
    --max-hold DURATION     Release after this long in any case (default 2h).
    --reuse-environment     When PORTLEASE_LEASE_ID and every port variable
                            are already in the environment (lease-run ...
                            -- ctest), write them to FILE and hold nothing.
    --ctest-fixture NAME    The PortLease fixture this setup is for. It
                            reuses the outer lease, as --reuse-environment,
                            when PORTLEASE_CTEST_REUSE is NAME, or is 1 and
                            NAME is the only fixture listed in ...
    --ctest-fixtures FILE   ... FILE (one name per line; the module writes
                            it). Any other value of PORTLEASE_CTEST_REUSE
                            that names no listed fixture is an error.
    --release-env-file FILE End the holder recorded in FILE (it releases the
                            lease) and remove FILE. A lease reused from the
                            environment is not released.
    --ctest-resource-spec FILE --blocks N
                            Lease N blocks (each one lease of the requested
                            ports), write FILE as a CTest resource spec with
                            N resources of type "portlease" and block i's
                            variables to FILE.block<i>.env, and run COMMAND
                            with PORTLEASE_RESOURCE_SPEC=FILE. Tests with
                            RESOURCE_GROUPS "portlease:1" run by
                            `ctest --resource-spec-file FILE` each get one
                            block; `lease-exec --from-resource-group` loads it.

ENVIRONMENT
    PORTLEASE_ADDR          Server address (unix:PATH or HOST:PORT), or a
                            comma-separated list (unix:/a.sock,HOST:PORT):
                            a connection error moves calls and the Hold
                            stream to the next one in turn. When unset: the
                            system socket
                            unix:/run/portlease/portleased.sock if it exists,
                            else a private per-user portleased, started on
                            first use (socket in $XDG_RUNTIME_DIR/portlease,
                            database and log in $XDG_STATE_HOME/portlease),
                            announced by one line on stderr; it exits after
                            15 minutes idle. `portlease server status|stop`
                            show and stop it (see portlease --help).
    PORTLEASE_SYSTEM_ADDR   Another system socket (for tests).
    PORTLEASE_CONNECT_TIMEOUT
                            The default of --connect-timeout.
    PORTLEASE_SERVER_BIN    The portleased to start (default: next to
                            lease-run, then PATH).
    PORTLEASE_SERVER_ARGS   Flags of the private portleased, e.g.
                            "--pool=21000-21999 --idle-exit=1h"; else they
                            come from $XDG_CONFIG_HOME/portlease/portleased.conf
                            (one --flag=value a line).
    PORTLEASE_CTEST_REUSE   A fixture name (or 1, see --ctest-fixture):
                            that fixture's setup reuses the lease of an outer
                            lease-run instead of leasing its own.

EXIT STATUS
    COMMAND's status, or: 1 server misconfigured (the embedded server runs
    another version, no portleased found), or --listen-host cannot be
    bound; 2 usage, profile or template error, or a malformed
    PORTLEASE_ADDR; 69 server unreachable until
    --connect-timeout, or the system socket refuses this user; 75 pool
    exhausted, wait timed out, a port in use at --listen-fds, or lease
    lost while COMMAND ran with --on-lease-loss=term (COMMAND then gets
    SIGTERM, SIGKILL 10s later); 126/127 COMMAND not executable / not
    found; 128+N signal N (SIGINT 130, SIGTERM 143, SIGHUP 129) ended the
    wait for a server or ports (no lease kept), or killed COMMAND.

EXAMPLES
    lease-run --ports redis,worker -- docker compose up
    lease-run --profile ci/m2/ports.json --render redis.conf.in:redis.conf -- make test
    lease-run --ports redis --ctest-resource-spec res.json --blocks 8 -- \
        ctest -j8 --resource-spec-file res.json

SEE ALSO
    lease-exec(1), portlease(1), portleased(8)
)";

}  // namespace

const char* LeaseRunUsage() { return kLeaseRunUsage; }

}  // namespace portlease
