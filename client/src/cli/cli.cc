// The portlease CLI: flags, dispatch, and the commands that change leases.
#include "src/cli/cli.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/strings/str_join.h"
#include "common/conventions/exit_codes.h"
#include "portlease/lease_env.h"
#include "portlease/profile.h"
#include "src/acquire_flow.h"
#include "src/args.h"
#include "src/cli/cli_internal.h"
#include "src/signal_watch.h"

namespace portlease {
namespace {

int Fail(std::ostream& err, int code, absl::string_view message) {
  err << "portlease: " << message << std::endl;
  return code;
}

// A full lease id: 32 lower-case hex characters, as PORTLEASE_LEASE_ID
// holds. INVALID_ARGUMENT otherwise, saying where to find one.
absl::Status CheckLeaseId(const std::string& id) {
  const bool hex = std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f');
  });
  if (id.size() == 32 && hex) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "\"", id, "\" is not a lease id: want the full id, 32 hex characters ",
      "(PORTLEASE_LEASE_ID; list shows only the first 8)"));
}

// A lease another caller holds (renew, release): 77, pointing at the way
// an administrator ends it.
int NotYourLease(std::ostream& err, const Connection& connection,
                 const absl::Status& status) {
  return Fail(err, kExitNoPermission,
              absl::StrCat(connection.where.Describe(), ": ",
                           status.message(),
                           "; the lease belongs to another caller: its "
                           "holder, root or `portlease admin force-release` "
                           "(with the admin token) can end it"));
}

// A failed call to the server: 69 when it could not be reached, 2 when it
// refused the request as invalid (e.g. a ttl above its --max-ttl), else 1.
int CallFailure(std::ostream& err, const Connection& connection,
                const absl::Status& status) {
  const bool unreachable =
      status.code() == absl::StatusCode::kUnavailable ||
      status.code() == absl::StatusCode::kDeadlineExceeded;
  const bool refused = status.code() == absl::StatusCode::kInvalidArgument;
  return Fail(err, unreachable ? kExitUnavailable : refused ? kExitUsage : 1,
              absl::StrCat(connection.where.Describe(), ": ",
                           status.ToString()));
}

// As lease-run computes it, so COMPOSE_PROJECT_NAME has the same base.
std::string CurrentDirectory() {
  char buf[4096];
  if (getcwd(buf, sizeof(buf)) == nullptr) return "";
  return buf;
}

}  // namespace

const char* PortleaseCliUsage() {
  return R"(NAME
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
    portlease who PORT... [--format=table|json]
    portlease preflight [--ports PORT,... | --profile FILE] [--udp]
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
    PORTLEASE_ADDR          Server address (unix:PATH or HOST:PORT); see
                            lease-run --help for the defaults. acquire may
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
    or port the server refuses as invalid, or a ttl outside the server's
    limits); 69 server unreachable until
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
}

absl::StatusOr<CliFlags> ParseCliFlags(const std::vector<std::string>& args) {
  absl::StatusOr<SplitArgs> split = SplitCommandLine(
      args,
      {"format", "ports", "count", "profile", "ttl", "wait", "gitlab-dotenv",
       "owner", "admin-token-file", "pool", "exclude", "connect-timeout",
       "since", "limit"},
      {"help", "udp", "github-env", "force"});
  if (!split.ok()) return split.status();
  CliFlags flags;
  std::string connect_timeout;
  for (const auto& [name, value] : split->flags) {
    flags.given.push_back(name);
    if (name == "help") {
      flags.help = true;
    } else if (name == "udp") {
      flags.udp = true;
    } else if (name == "github-env") {
      flags.github_env = true;
    } else if (name == "force") {
      flags.force = true;
    } else if (name == "format") {
      flags.format_name = value;
      if (value == "table") {
        flags.format = OutputFormat::kTable;
      } else if (value == "json") {
        flags.format = OutputFormat::kJson;
      } else if (value == "env") {
        flags.format = OutputFormat::kEnv;
      } else if (value == "shell") {
        flags.format = OutputFormat::kShell;
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            "--format=", value, ": want table, json, env or shell"));
      }
    } else if (name == "ports") {
      flags.ports = value;
    } else if (name == "count") {
      if (!absl::SimpleAtoi(value, &flags.count) || flags.count == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("--count ", value, ": want a positive number"));
      }
    } else if (name == "profile") {
      flags.profile = value;
    } else if (name == "gitlab-dotenv") {
      flags.gitlab_dotenv = value;
    } else if (name == "admin-token-file") {
      flags.admin_token_file = value;
    } else if (name == "pool") {
      flags.pool = value;
    } else if (name == "exclude") {
      flags.exclude = value;
    } else if (name == "connect-timeout") {
      connect_timeout = value;
    } else if (name == "since") {
      absl::StatusOr<absl::Time> since = ParseSince(value, absl::Now());
      if (!since.ok()) return since.status();
      flags.since = *since;
    } else if (name == "limit") {
      if (!absl::SimpleAtoi(value, &flags.limit) || flags.limit == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("--limit ", value, ": want a positive number"));
      }
    } else if (name == "owner") {
      const size_t eq = value.find('=');
      if (eq == std::string::npos || eq == 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--owner ", value, ": want KEY=VALUE (e.g. GITHUB_RUN_ID=42)"));
      }
      flags.owner_filter[value.substr(0, eq)] = value.substr(eq + 1);
    } else if (name == "ttl" || name == "wait") {
      absl::StatusOr<absl::Duration> d = ParseFlagDuration(name, value);
      if (!d.ok()) return d.status();
      (name == "ttl" ? flags.ttl : flags.wait) = *d;
    }
  }
  absl::StatusOr<absl::Duration> timeout =
      ConnectTimeoutSetting(connect_timeout, ProcessEnvironment());
  if (!timeout.ok()) return timeout.status();
  flags.connect_timeout = *timeout;
  std::vector<std::string> positional = split->positional;
  positional.insert(positional.end(), split->rest.begin(), split->rest.end());
  if (!positional.empty()) {
    flags.command = positional.front();
    flags.positional.assign(positional.begin() + 1, positional.end());
  }
  return flags;
}

namespace {

// What each command takes besides --help. One table, checked before any
// command runs (CheckFlagsApply), so that a flag meant for another command
// is an error instead of being ignored.
struct CommandSpec {
  // "list", or "admin drain" / "server stop" for subcommands.
  absl::string_view command;
  // Its flags (without dashes), --format excluded.
  std::vector<absl::string_view> flags;
  // Its --format values; none: --format does not apply.
  std::vector<absl::string_view> formats;
  // Whether it takes arguments after the (sub)command.
  bool takes_arguments;
};

const std::vector<CommandSpec>& CommandSpecs() {
  static const auto* const specs = new std::vector<CommandSpec>{
      {"acquire",
       {"ports", "count", "profile", "ttl", "wait", "udp", "github-env",
        "gitlab-dotenv", "connect-timeout"},
       {"table", "json", "env", "shell"},
       false},
      {"release", {"connect-timeout"}, {}, true},
      {"renew", {"ttl", "connect-timeout"}, {"table", "json"}, true},
      {"list", {"owner", "connect-timeout"}, {"table", "json"}, false},
      {"status", {"connect-timeout"}, {"table", "json"}, false},
      {"events", {"since", "limit", "connect-timeout"}, {"table", "json"},
       false},
      {"who", {"connect-timeout"}, {"table", "json"}, true},
      {"preflight", {"ports", "profile", "udp", "connect-timeout"}, {}, true},
      {"admin force-release",
       {"admin-token-file", "connect-timeout"}, {"table", "json"}, true},
      {"admin drain",
       {"admin-token-file", "connect-timeout"}, {"table", "json"}, true},
      {"admin undrain",
       {"admin-token-file", "connect-timeout"}, {"table", "json"}, true},
      {"admin set-pool",
       {"pool", "exclude", "admin-token-file", "connect-timeout"},
       {"table", "json"},
       false},
      {"server status", {}, {"table", "json"}, false},
      {"server stop", {"force", "wait"}, {}, false},
  };
  return *specs;
}

// "--a, --b or --c", or "no flags".
std::string FlagList(const std::vector<absl::string_view>& flags) {
  if (flags.empty()) return "no flags";
  std::string out;
  for (size_t i = 0; i < flags.size(); ++i) {
    if (i > 0) out += i + 1 == flags.size() ? " or " : ", ";
    absl::StrAppend(&out, "--", flags[i]);
  }
  return out;
}

}  // namespace

absl::Status CheckFlagsApply(const CliFlags& flags) {
  std::string name = flags.command;
  size_t first_argument = 0;
  if ((name == "admin" || name == "server") && !flags.positional.empty()) {
    absl::StrAppend(&name, " ", flags.positional[0]);
    first_argument = 1;
  }
  const CommandSpec* spec = nullptr;
  for (const CommandSpec& candidate : CommandSpecs()) {
    if (candidate.command == name) spec = &candidate;
  }
  if (spec == nullptr) return absl::OkStatus();
  for (const std::string& flag : flags.given) {
    if (flag == "help") continue;
    if (flag == "format") {
      if (spec->formats.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--format does not apply to ", name, ": it prints text only"));
      }
      if (std::find(spec->formats.begin(), spec->formats.end(),
                    flags.format_name) == spec->formats.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--format=", flags.format_name, " does not apply to ", name,
            ": want ", absl::StrJoin(spec->formats, " or ")));
      }
      continue;
    }
    if (std::find(spec->flags.begin(), spec->flags.end(), flag) ==
        spec->flags.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, " does not apply to ", name, " (it takes ",
                       FlagList(spec->flags), "; see --help)"));
    }
  }
  if (!spec->takes_arguments && flags.positional.size() > first_argument) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " takes no arguments (got \"",
                     flags.positional[first_argument], "\")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Connection> Connect(bool start_embedded,
                                   absl::Duration connect_timeout) {
  ResolveOptions options;
  options.start_embedded = start_embedded;
  options.connect_timeout = connect_timeout;
  absl::StatusOr<ResolvedAddress> where = ResolveServerAddress(options);
  if (!where.ok()) return where.status();
  Connection connection;
  connection.where = *where;
  ClientOptions client_options;
  client_options.connect_timeout = connect_timeout;
  connection.client = std::make_unique<Client>(where->address, client_options);
  return connection;
}

int CmdAcquire(const CliFlags& flags, std::ostream& out, std::ostream& err) {
  absl::StatusOr<PortRequest> request =
      MakePortRequest(flags.ports, flags.count, flags.profile);
  if (!request.ok()) return Fail(err, kExitUsage, request.status().message());
  if (flags.ttl <= absl::ZeroDuration()) {
    return Fail(err, kExitUsage,
                "acquire needs an explicit --ttl (e.g. --ttl 300s): nothing "
                "holds this lease, it lives until released or expired");
  }
  if (flags.github_env && (std::getenv("GITHUB_ENV") == nullptr ||
                           *std::getenv("GITHUB_ENV") == '\0')) {
    return Fail(err, kExitUsage, "--github-env: GITHUB_ENV is not set");
  }
  // SIGINT/SIGTERM/SIGHUP end the command at once while it looks for a
  // server, and cancel the wait (keeping no lease) once it asks for ports.
  BlockCancelSignals();
  SignalWatch signals;
  absl::StatusOr<Connection> connection = Connect(/*start_embedded=*/true, flags.connect_timeout);
  if (!connection.ok()) {
    return Fail(err, kExitUnavailable, connection.status().message());
  }
  const Client& client = *connection->client;
  std::function<absl::StatusOr<v1::Lease>(const AcquireSpec&)> acquire =
      [&client](const AcquireSpec& spec) { return client.Acquire(spec); };
  const AcquireSpec spec = SpecFromRequest(*request, flags.ttl, flags.udp);
  signals.OnSignal([&client] { client.Cancel(); });
  absl::StatusOr<v1::Lease> lease =
      AcquireWithWait(spec, flags.wait, err, "portlease", acquire);
  signals.Stop();
  if (const int sig = signals.signal(); sig != 0) {
    client.ClearCancellation();
    if (lease.ok()) {
      client.Release(lease->lease_id(), absl::Seconds(1)).IgnoreError();
    } else {
      EndCancelledAcquire(client, spec);
    }
    return Fail(err, 128 + sig, CancelledMessage(sig));
  }
  if (!lease.ok()) {
    return Fail(err, AcquireErrorExitCode(lease.status(), flags.wait),
                AcquireErrorMessage(lease.status(),
                                    connection->where.Describe(), flags.wait));
  }
  // From here on the lease exists and only this process knows its id: a
  // failure releases it, and the one error line says so.
  auto fail_granted = [&](int code, absl::string_view what) {
    const std::string prefix = lease->lease_id().substr(0, 8);
    const absl::Status released = client.Release(lease->lease_id());
    return Fail(
        err, code,
        released.ok()
            ? absl::StrCat(what, "; released lease ", prefix)
            : absl::StrCat(what, "; releasing lease ", prefix, " failed too (",
                           released.message(), "): it expires at ",
                           FormatTimestamp(lease->expires_at())));
  };
  absl::StatusOr<Variables> vars = LeaseVariables(
      *lease, request->profile.has_value() ? &*request->profile : nullptr,
      ProcessEnvironment(), CurrentDirectory());
  if (!vars.ok()) return fail_granted(kExitUsage, vars.status().message());
  // Everything is formatted before anything is written.
  std::string github_lines;
  if (flags.github_env) github_lines = FormatGitHubEnv(*vars, RandomDelimiter);
  std::string gitlab_lines;
  if (!flags.gitlab_dotenv.empty()) {
    absl::StatusOr<std::string> lines = FormatGitLabDotenv(*vars);
    if (!lines.ok()) {
      return fail_granted(
          1, absl::StrCat("--gitlab-dotenv ", flags.gitlab_dotenv, ": ",
                          lines.status().message()));
    }
    gitlab_lines = *std::move(lines);
  }
  if (flags.github_env) {
    absl::Status s = AppendPrivateFile(std::getenv("GITHUB_ENV"), github_lines);
    if (!s.ok()) {
      return fail_granted(1, absl::StrCat("--github-env: ", s.message()));
    }
  }
  if (!flags.gitlab_dotenv.empty()) {
    absl::Status s = WritePrivateFile(flags.gitlab_dotenv, gitlab_lines);
    if (!s.ok()) {
      return fail_granted(1, absl::StrCat("--gitlab-dotenv: ", s.message()));
    }
  }
  switch (flags.format) {
    case OutputFormat::kEnv:
      out << FormatEnvLines(*vars);
      break;
    case OutputFormat::kShell:
      out << FormatShellExports(*vars);
      break;
    case OutputFormat::kJson:
      out << "{\"lease\": " << ToJson(*lease)
          << ", \"env\": " << VariablesJson(*vars) << "}\n";
      break;
    case OutputFormat::kTable:
      out << "lease " << lease->lease_id() << " ports " << PortsSummary(*lease)
          << " expires " << FormatTimestamp(lease->expires_at()) << "\n";
      for (const auto& [key, value] : *vars) out << key << "=" << value << "\n";
      break;
  }
  out << std::flush;
  if (!out) {
    return fail_granted(1, "cannot write the variables to standard output");
  }
  return 0;
}

int CmdRelease(const CliFlags& flags, std::ostream& out, std::ostream& err) {
  if (flags.positional.size() != 1) {
    return Fail(err, kExitUsage, "usage: portlease release LEASE_ID");
  }
  const std::string& id = flags.positional[0];
  absl::Status valid = CheckLeaseId(id);
  if (!valid.ok()) return Fail(err, kExitUsage, valid.message());
  absl::StatusOr<Connection> connection = Connect(false, flags.connect_timeout);
  if (!connection.ok()) return Fail(err, kExitUnavailable, connection.status().message());
  absl::Status status = connection->client->Release(id);
  if (status.code() == absl::StatusCode::kNotFound) {
    // Released, expired, force-released, or held by a server that lost it:
    // the lease is gone either way, which is what a cleanup step wants.
    return Fail(err, 0,
                absl::StrCat("lease ", id.substr(0, 8),
                             " had already ended (released, expired or "
                             "unknown to the server): nothing to release"));
  }
  if (status.code() == absl::StatusCode::kPermissionDenied) {
    return NotYourLease(err, *connection, status);
  }
  if (!status.ok()) return CallFailure(err, *connection, status);
  out << "released " << id.substr(0, 8) << "\n";
  return 0;
}

int CmdRenew(const CliFlags& flags, std::ostream& out, std::ostream& err) {
  if (flags.positional.size() != 1) {
    return Fail(err, kExitUsage, "usage: portlease renew LEASE_ID [--ttl D]");
  }
  absl::Status valid = CheckLeaseId(flags.positional[0]);
  if (!valid.ok()) return Fail(err, kExitUsage, valid.message());
  absl::StatusOr<Connection> connection = Connect(false, flags.connect_timeout);
  if (!connection.ok()) return Fail(err, kExitUnavailable, connection.status().message());
  absl::StatusOr<v1::Lease> lease =
      connection->client->Renew(flags.positional[0], flags.ttl);
  if (lease.status().code() == absl::StatusCode::kPermissionDenied) {
    return NotYourLease(err, *connection, lease.status());
  }
  if (!lease.ok()) return CallFailure(err, *connection, lease.status());
  if (flags.format == OutputFormat::kJson) {
    v1::RenewResponse response;
    *response.mutable_lease() = *std::move(lease);
    out << ToJson(response) << "\n";
  } else {
    out << "renewed " << lease->lease_id_prefix() << " until "
        << FormatTimestamp(lease->expires_at()) << "\n";
  }
  return 0;
}

int RunPortleaseCli(const std::vector<std::string>& args, std::ostream& out,
                    std::ostream& err) {
  absl::StatusOr<CliFlags> flags = ParseCliFlags(args);
  if (!flags.ok()) return Fail(err, kExitUsage, flags.status().message());
  if (flags->help || flags->command.empty() || flags->command == "help") {
    (flags->command.empty() && !flags->help ? err : out) << PortleaseCliUsage();
    return flags->command.empty() && !flags->help ? kExitUsage : 0;
  }
  absl::Status applies = CheckFlagsApply(*flags);
  if (!applies.ok()) return Fail(err, kExitUsage, applies.message());
  const std::string& c = flags->command;
  if (c == "acquire") return CmdAcquire(*flags, out, err);
  if (c == "release") return CmdRelease(*flags, out, err);
  if (c == "renew") return CmdRenew(*flags, out, err);
  if (c == "list") return CmdList(*flags, out, err);
  if (c == "status") return CmdStatus(*flags, out, err);
  if (c == "events") return CmdEvents(*flags, out, err);
  if (c == "who") return CmdWho(*flags, out, err);
  if (c == "preflight") return CmdPreflight(*flags, out, err);
  if (c == "admin") return CmdAdmin(*flags, out, err);
  if (c == "server") return CmdServer(*flags, out, err);
  return Fail(err, kExitUsage,
              absl::StrCat("unknown command \"", c, "\" (see --help)"));
}

}  // namespace portlease
