// Command line and --help of lease-run.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "portlease/lease_run.h"
#include "src/args.h"

namespace portlease {

const char* LeaseRunUsage() {
  return R"(NAME
    lease-run - run a command with leased TCP ports in its environment

SYNOPSIS
    lease-run [--ports NAME,... | --count N | --profile FILE] [OPTIONS] -- COMMAND [ARG...]

DESCRIPTION
    Leases a block of free ports from portleased, runs COMMAND with them in
    its environment, keeps the lease alive while COMMAND runs and releases it
    when COMMAND exits. Exits with COMMAND's status (128+N when killed by
    signal N). SIGINT, SIGTERM and SIGHUP are forwarded to COMMAND's process
    group. If lease-run is killed, the server reclaims the lease.

    COMMAND sees, for each port NAME, NAME_PORT (upper case, '-' as '_'), or
    PORT_0, PORT_1... with --count; PORTLEASE_LEASE_ID; PORTLEASE_PORTS (the
    ports, space-separated, in request order); COMPOSE_PROJECT_NAME unique
    to the lease unless already set; and a profile's derived variables.

OPTIONS
    --ports NAME,...        Port names, each [a-z][a-z0-9_-]{0,31}.
    --count N               N unnamed ports.
    --profile FILE          A port profile (JSON or protobuf text format)
                            declaring ports, their variables and derived
                            variables, e.g. ci/m2/ports.json.
    --render TEMPLATE:OUTPUT
                            Write OUTPUT from TEMPLATE with ${VAR} and
                            ${VAR:-default} replaced by the lease's variables
                            or the environment. Repeatable. An unknown
                            variable without default is an error.
    --env-file PATH         Also write the variables to PATH as KEY=value.
    --wait DURATION         When the pool is busy, wait up to DURATION
                            (e.g. 5m) instead of failing.
    --ttl DURATION          Lease time to live (default: the server's);
                            renewed every ttl/3.
    --udp                   Also require the ports to be free for UDP.
    -h, --help              Show this text.

ENVIRONMENT
    PORTLEASE_ADDR          Server address (unix:PATH or HOST:PORT). When
                            unset: the system socket
                            unix:/run/portlease/portleased.sock if it answers,
                            else a private per-user portleased, started on
                            first use (socket in $XDG_RUNTIME_DIR/portlease,
                            database and log in $XDG_STATE_HOME/portlease).
    PORTLEASE_SERVER_BIN    The portleased to start (default: next to
                            lease-run, then PATH).

EXIT STATUS
    COMMAND's status, or: 2 usage, profile or template error; 69 server
    unreachable; 75 pool exhausted, wait timed out, or lease lost while
    COMMAND ran (COMMAND then gets SIGTERM, SIGKILL 10s later); 126/127
    COMMAND not executable / not found.

EXAMPLES
    lease-run --ports redis,worker -- docker compose up
    lease-run --profile ci/m2/ports.json --render redis.conf.in:redis.conf -- make test
)";
}

absl::StatusOr<LeaseRunOptions> ParseLeaseRunArgs(
    const std::vector<std::string>& args) {
  absl::StatusOr<SplitArgs> split = SplitCommandLine(
      args,
      {"ports", "count", "profile", "render", "env-file", "wait", "ttl"},
      {"help", "udp"});
  if (!split.ok()) return split.status();
  LeaseRunOptions options;
  for (const auto& [name, value] : split->flags) {
    if (name == "help") {
      options.help = true;
    } else if (name == "udp") {
      options.udp = true;
    } else if (name == "ports") {
      options.ports = value;
    } else if (name == "count") {
      if (!absl::SimpleAtoi(value, &options.count) || options.count == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("--count ", value, ": want a positive number"));
      }
    } else if (name == "profile") {
      options.profile = value;
    } else if (name == "render") {
      options.renders.push_back(value);
    } else if (name == "env-file") {
      options.env_file = value;
    } else if (name == "wait" || name == "ttl") {
      absl::StatusOr<absl::Duration> d = ParseFlagDuration(name, value);
      if (!d.ok()) return d.status();
      (name == "wait" ? options.wait : options.ttl) = *d;
    }
  }
  if (options.help) return options;
  if (!split->positional.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument \"", split->positional.front(),
                     "\" (put the command after --)"));
  }
  if (split->rest.empty()) {
    return absl::InvalidArgumentError(
        "missing command after -- (usage: lease-run [flags] -- CMD ARGS...)");
  }
  options.command = split->rest;
  return options;
}

}  // namespace portlease
