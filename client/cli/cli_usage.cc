// `portlease --help`: the usage text, one constant.
#include "cli/cli.h"

namespace portlease {
namespace {

constexpr char kPortleaseCliUsage[] = R"(NAME
    portlease - lease TCP ports from portleased, and see who holds ports

SYNOPSIS
    portlease acquire (--ports NAME,... | --count N | --profile FILE) --ttl DURATION
                      [--wait DURATION] [--udp] [--format=table|json|env|shell]
                      [--github-env] [--gitlab-dotenv FILE]
    portlease release LEASE_ID
    portlease renew LEASE_ID [--ttl DURATION] [--format=table|json]
    portlease list [--owner KEY=VALUE]... [--format=table|json]
    portlease status [--format=table|json]
    portlease events [--since DURATION|TIME] [--limit N] [--format=table|json]
    portlease who PORT... [--docker] [--format=table|json]
    portlease preflight [--ports PORT,... | --profile FILE] [--udp] [--docker]
    portlease admin force-release LEASE_ID_PREFIX|PORT [--admin-token-file FILE]
    portlease admin drain PORT... [--admin-token-file FILE]
    portlease admin undrain PORT... [--admin-token-file FILE]
    portlease admin set-pool --pool RANGES [--exclude PORTS]
                             [--admin-token-file FILE]
    portlease server status [--format=table|json]
    portlease server stop [--force] [--wait DURATION]

DESCRIPTION
    portlease talks to portleased: it leases ports for scripts that cannot
    wrap their work in lease-run(1) (acquire, renew, release), shows the
    leases and the pool (list, status), and tells who holds a port (who,
    preflight). Lease ids are secrets: whoever has one can renew or release
    the lease, so list and status show only their first characters.

COMMANDS
    acquire     Lease ports and print the variables lease-run would export
                (NAME_PORT..., PORTLEASE_LEASE_ID, PORTLEASE_PORTS,
                COMPOSE_PROJECT_NAME, profile variables). Nothing holds the
                lease, so --ttl is required; renew or release it yourself.
                --format=env prints KEY='value' lines (shell quoting:
                `set -a; . FILE` reads them back), --format=shell prints
                export lines for eval; --github-env appends to $GITHUB_ENV,
                --gitlab-dotenv writes a GitLab dotenv report; files are
                created mode 0600. If anything fails after the grant
                (writing a file, a profile variable), acquire releases the
                lease, says so, and exits non-zero.
    release     End a lease. A lease that had already ended (released,
                expired, force-released) is no failure: one line on
                standard error, exit 0, so that cleanup steps can always
                run it.
    renew       Extend a lease by its ttl (or --ttl).
    list        Live and draining leases (ids shown as prefixes).
    events      The audit trail, oldest first: each grant, renewal, release,
                expiry, reclaim, forced release, drain and pool change, who
                made it (by=uid:N, cert:NAME, ... or server) and when. The
                server records an event with its change, so an acknowledged
                change is never missing. --since 1h (a duration back from
                now) or --since 2030-01-17T08:00:00Z; --limit N: the newest
                N only.
    status      Pool size; free, leased, quarantined, draining counts; the
                largest free block.
    who         For each port: its lease (when a server answers) and the
                local processes using it.
    preflight   For each fixed port a project uses (numbers, or a profile's
                defaultPort values): free, bound by a process, or leased.
                Exits 0 only if all are free. Works without a server (local
                checks only).

PRIVATE SERVER COMMANDS
    When PORTLEASE_ADDR is unset and the system socket does not answer,
    lease-run and portlease acquire start a private portleased for this
    user and say so on standard error, in one line naming its socket
    ($XDG_RUNTIME_DIR/portlease/portleased.sock, else
    /tmp/portlease-$UID/), database and log ($XDG_STATE_HOME/portlease/,
    else ~/.local/state/portlease/). It runs in its own session with only
    PATH, HOME, LANG, LC_* and XDG_* of the environment, and exits by itself
    after 15 minutes with no lease and no client. Its flags (portleased(8))
    come from $PORTLEASE_SERVER_ARGS (whitespace-separated) or else from
    $XDG_CONFIG_HOME/portlease/portleased.conf (else
    ~/.config/portlease/portleased.conf): one --flag=value a line, # starts
    a comment; e.g. --pool=21000-21999 or --idle-exit=1h (0: never).
    --listen and --db are not allowed there. A flag portleased refuses
    fails the client with portleased's message and the file's name. These
    commands act on that server only, never on PORTLEASE_ADDR's.

    server status
                Whether it runs; its pid, socket, database, log, where its
                flags come from, version and live leases.
    server stop
                Ask it to exit (SIGTERM to the pid it recorded, checked
                against the process's start time, so that a reused pid is
                never signalled) and wait up to --wait (default 10s) until
                it has exited. Refuses while leases are live, unless
                --force. Leases stay in its database.

ADMIN COMMANDS
    These need the server's admin token (portleased --admin-token-file),
    read from --admin-token-file or $PORTLEASE_ADMIN_TOKEN_FILE; it is sent
    to the server and never printed. --format=json prints the server's
    answer.

    admin force-release LEASE_ID_PREFIX|PORT
                End someone's live lease, named by an id prefix (at least 8
                characters, as list shows) or by any port it holds (a number
                of at most 5 digits).
    admin drain PORT...
                Take pool ports out of service: a free port at once, a leased
                one when its lease ends. Drained ports are stored with the
                leases and stay drained when portleased restarts.
    admin undrain PORT...
                Put drained ports back into service.
    admin set-pool --pool RANGES [--exclude PORTS]
                Replace the server's pool and excluded ports (the syntax of
                portleased's --pool and --exclude; without --exclude, only
                the always-excluded ports). New leases come from the new
                pool only. Live leases on ports that leave the pool stay
                valid until released or expired, and those ports are not
                granted again. Runtime only: portleased applies its own
                --pool and --exclude again when it restarts, so put the new
                values in its configuration too.

OPTIONS
    --ports NAME,...        acquire: port names. preflight: port numbers.
    --count N               acquire: N unnamed ports.
    --profile FILE          acquire: the profile's ports and variables.
                            preflight: its defaultPort values.
    --ttl DURATION          acquire: required, e.g. 300s or 2h. renew: the
                            new time to live (default: the lease's). At
                            most the server's --max-ttl (default 24h).
    --wait DURATION         acquire: when the pool is busy, wait up to
                            DURATION instead of failing. server stop: how
                            long to wait for the exit (default 10s).
    --force                 server stop: stop even while leases are live.
    --udp                   acquire: also require the ports free for UDP.
                            preflight: count UDP sockets as conflicts too
                            (a profile with "udp": true does the same);
                            without it only TCP listeners conflict.
    --docker                who, preflight: also ask `docker ps` which
                            containers publish the ports (needed when
                            Docker runs without its userland proxy: then
                            no process holds a published port). Without
                            it a port held by docker-proxy is still named
                            with its container's address.
    --format FORMAT         table (default) or json (see JSON OUTPUT):
                            acquire, renew, list, status, who, admin and
                            server status. acquire also takes env
                            (KEY='value' lines) and shell (export lines).
                            release, preflight and server stop print text
                            only.
    --github-env            acquire: append the variables to $GITHUB_ENV,
                            for the later steps of a GitHub Actions job:
                            NAME=value, or NAME<<DELIMITER, the value and
                            DELIMITER (random) for a multi-line value.
    --gitlab-dotenv FILE    acquire: write the variables to FILE, a GitLab
                            CI dotenv report (artifacts:reports:dotenv):
                            KEY=value lines, unquoted, since GitLab takes
                            values literally; a multi-line value is an
                            error.
    --owner KEY=VALUE       list: only leases whose owner metadata has
                            KEY=VALUE (e.g. GITHUB_RUN_ID=42). Repeatable.
    --connect-timeout DURATION
                            How long to keep trying while portleased cannot
                            be reached (no socket, connection refused or
                            reset: a server restarting), retrying with
                            backoff (default 10s, or
                            $PORTLEASE_CONNECT_TIMEOUT; who and preflight
                            wait at most 1s). A retried acquire keeps its
                            request id, so it is never granted twice; a
                            retried release that finds the lease gone
                            counts as released.
    --admin-token-file FILE admin: the file holding the server's admin
                            token (default: $PORTLEASE_ADMIN_TOKEN_FILE).
    --pool RANGES           admin set-pool: the new pool, LO-HI[,LO-HI...].
    --exclude PORTS         admin set-pool: ports never leased, P or LO-HI,
                            comma-separated.
    -h, --help              Show this text.
    --version               Print portlease's version (alone: portlease --version).

    A flag or --format value a command does not take, and arguments to a
    command that takes none, are usage errors (exit 2) naming the flag and
    the command.

JSON OUTPUT
    --format=json prints one line holding one JSON object with every field,
    also those that are 0, "" or false; an absent object is null. Field
    names are those of portlease.proto (snake_case); enums are lower-case
    strings without their type prefix (LEASE_STATE_LIVE is "live");
    integers, pids included, are numbers; timestamps are RFC 3339 strings
    ("2026-11-26T13:48:24Z") and durations protobuf's ("60s", "1.5s").
    acquire prints {"lease": LEASE, "env": {NAME: VALUE...}}; renew and
    admin force-release {"lease": LEASE}; list {"leases": [LEASE...]}; who
    {"ports": [PORT_INFO...]}; status and admin set-pool the server's
    answer; admin drain and undrain {"drained": [PORT...]} and
    {"undrained": [PORT...]}. README.md shows each shape.

ENVIRONMENT
    PORTLEASE_ADDR          Server address (unix:PATH or HOST:PORT), or a
                            comma-separated list tried in turn on connection
                            errors; see lease-run --help for the defaults.
                            acquire may
                            start the private per-user portleased (only when
                            no system socket exists); the other commands
                            never start one.
    PORTLEASE_CONNECT_TIMEOUT
                            The default of --connect-timeout.
    GITHUB_ENV              The file --github-env appends to.
    PORTLEASE_ADMIN_TOKEN_FILE
                            admin: the admin token file, when
                            --admin-token-file is not given.
    PORTLEASE_SERVER_ARGS   Flags of the private portleased (see PRIVATE
                            SERVER COMMANDS); overrides its config file.
    PORTLEASE_SERVER_BIN    The portleased to start (default: next to
                            portlease, then PATH).
    XDG_RUNTIME_DIR, XDG_STATE_HOME, XDG_CONFIG_HOME, HOME
                            Where the private server's socket, database,
                            log and config file are.

EXIT STATUS
    0 success (release: also when the lease had already ended); 1 failure
    or busy ports (preflight); 2 usage (also a malformed lease id, a pool
    or port the server refuses as invalid, a ttl outside the server's
    limits, or a malformed PORTLEASE_ADDR); 69 server unreachable until
    --connect-timeout, or the system socket refuses this user; 75 pool
    exhausted; 77 admin token missing, unreadable or refused, or (renew,
    release) the lease belongs to another caller; 128+N
    (acquire) signal N ended the wait for a server or ports, no lease kept.
    server status: 0 running; 1 running but not answering, or answering
    without a pid file; 3 not running.
    server stop: 0 stopped, or none was running; 1 it does not answer
    (without --force), cannot be identified or signalled, or did not exit
    in time; 2 usage; 75 refused: leases are live (see --force).

EXAMPLES
    portlease acquire --profile ci/m2/ports.json --ttl 1h --format=shell >lease.sh
    . ./lease.sh && make test; portlease release "$PORTLEASE_LEASE_ID"
    portlease acquire --ports redis,web --ttl 30m --gitlab-dotenv lease.env
    portlease list --owner CI_PIPELINE_ID="$CI_PIPELINE_ID"
    portlease who 6379 8080
    portlease events --since 1h
    portlease preflight --profile ci/m2/ports.json
    export PORTLEASE_ADMIN_TOKEN_FILE=/etc/portlease/admin-token
    portlease admin drain 20017 20018
    portlease admin force-release 20017
    portlease admin set-pool --pool 20000-24999 --exclude 20017-20018
    portlease server status
    mkdir -p ~/.config/portlease
    echo --pool=21000-21099 >~/.config/portlease/portleased.conf
    portlease server stop && lease-run --count 1 -- env

SEE ALSO
    lease-run(1), portleased(8)
)";

}  // namespace

const char* PortleaseCliUsage() { return kPortleaseCliUsage; }

}  // namespace portlease
