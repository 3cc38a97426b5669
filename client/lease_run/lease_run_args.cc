// lease-run's command line (its --help text is in lease_run_usage.cc).
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "lease_run/lease_run.h"
#include "lease_run/lease_run_compose.h"
#include "lease_run/listen_fds.h"
#include "portlease/lease_env.h"
#include "cli_common/acquire_flow.h"
#include "cli_common/args.h"

namespace portlease {

namespace {

// Which flags go with --detach, --release-env-file and
// --ctest-resource-spec.
absl::Status CheckLeaseRunModes(const LeaseRunOptions& options,
                                const SplitArgs& split) {
  const bool watching = options.watch_ctest || options.watch_pid != 0 ||
                        options.watch_start_time != 0;
  if (!options.release_env_file.empty()) {
    if (split.flags.size() != 1 || !split.rest.empty() ||
        !split.positional.empty()) {
      return absl::InvalidArgumentError(
          "--release-env-file takes no other flags and no command");
    }
    return absl::OkStatus();
  }
  if (options.detach) {
    if (options.env_file.empty()) {
      return absl::InvalidArgumentError("--detach needs --env-file");
    }
    if (split.saw_dashdash || !split.positional.empty()) {
      return absl::InvalidArgumentError("--detach takes no command");
    }
    if (options.watch_ctest && options.watch_pid != 0) {
      return absl::InvalidArgumentError(
          "--watch-ctest and --watch-pid exclude each other");
    }
    if (options.watch_start_time != 0 && options.watch_pid == 0) {
      return absl::InvalidArgumentError("--watch-start-time needs --watch-pid");
    }
    if (!options.ctest_resource_spec.empty()) {
      return absl::InvalidArgumentError(
          "--detach and --ctest-resource-spec exclude each other");
    }
    return absl::OkStatus();
  }
  if (watching || options.reuse_environment ||
      !options.ctest_fixture.empty() || !options.ctest_fixtures_file.empty()) {
    return absl::InvalidArgumentError(
        "--watch-ctest, --watch-pid, --watch-start-time, "
        "--reuse-environment, --ctest-fixture and --ctest-fixtures need "
        "--detach");
  }
  if (options.ctest_resource_spec.empty() != (options.blocks == 0)) {
    return absl::InvalidArgumentError(
        "--ctest-resource-spec and --blocks go together");
  }
  if (!options.ctest_resource_spec.empty() &&
      (!options.env_file.empty() || !options.renders.empty())) {
    return absl::InvalidArgumentError(
        "--ctest-resource-spec writes one env file per block: no --env-file "
        "or --render");
  }
  return absl::OkStatus();
}

// The flags of the CTest modes: --detach and what goes with it,
// --release-env-file, --ctest-resource-spec and --blocks.
bool IsCtestModeFlag(const std::string& name) {
  for (const char* flag :
       {"detach", "watch-ctest", "reuse-environment", "watch-pid",
        "watch-start-time", "max-hold", "ctest-fixture", "ctest-fixtures",
        "release-env-file", "ctest-resource-spec", "blocks"}) {
    if (name == flag) return true;
  }
  return false;
}

absl::Status ApplyCtestModeFlag(const std::string& name,
                                const std::string& value,
                                LeaseRunOptions& options) {
  if (name == "detach") {
    options.detach = true;
  } else if (name == "watch-ctest") {
    options.watch_ctest = true;
  } else if (name == "reuse-environment") {
    options.reuse_environment = true;
  } else if (name == "watch-pid") {
    if (!absl::SimpleAtoi(value, &options.watch_pid) ||
        options.watch_pid <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--watch-pid ", value, ": want a process id"));
    }
  } else if (name == "watch-start-time") {
    if (!absl::SimpleAtoi(value, &options.watch_start_time)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--watch-start-time ", value, ": want a number of clock ticks"));
    }
  } else if (name == "max-hold") {
    absl::StatusOr<absl::Duration> d = ParseFlagDuration(name, value);
    if (!d.ok()) return d.status();
    options.max_hold = *d;
  } else if (name == "ctest-fixture") {
    options.ctest_fixture = value;
  } else if (name == "ctest-fixtures") {
    options.ctest_fixtures_file = value;
  } else if (name == "release-env-file") {
    options.release_env_file = value;
  } else if (name == "ctest-resource-spec") {
    options.ctest_resource_spec = value;
  } else if (name == "blocks") {
    if (!absl::SimpleAtoi(value, &options.blocks) || options.blocks == 0 ||
        options.blocks > 256) {
      return absl::InvalidArgumentError(
          absl::StrCat("--blocks ", value, ": want 1 to 256"));
    }
  }
  return absl::OkStatus();
}

// The flags of running a command under a lease. --connect-timeout is kept
// as given in `connect_timeout`: it is settled once all flags are read.
absl::Status ApplyRunFlag(const std::string& name, const std::string& value,
                          LeaseRunOptions& options,
                          std::string& connect_timeout) {
  if (name == "help") {
    options.help = true;
  } else if (name == "version") {
    options.version = true;
  } else if (name == "quiet") {
    options.quiet = true;
  } else if (name == "udp") {
    options.udp = true;
  } else if (name == "listen-fds") {
    options.listen_fds = true;
  } else if (name == "listen-host") {
    options.listen_host = value;
  } else if (name == "compose" || name == "compose-print" ||
             name == "compose-file") {
    options.compose = true;
    if (name == "compose-print") options.compose_print = true;
    if (name == "compose-file") options.compose_files.push_back(value);
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
  } else if (name == "connect-timeout") {
    connect_timeout = value;
  } else if (name == "on-lease-loss") {
    if (value == "term") {
      options.on_lease_loss = LeaseRunOptions::OnLeaseLoss::kTerm;
    } else if (value == "warn") {
      options.on_lease_loss = LeaseRunOptions::OnLeaseLoss::kWarn;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--on-lease-loss=", value, ": want term or warn"));
    }
  }
  return absl::OkStatus();
}

// The command after "--", for the modes that run one.
absl::Status TakeCommand(const SplitArgs& split, LeaseRunOptions& options) {
  if (!split.positional.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument \"", split.positional.front(),
                     "\" (put the command after --)"));
  }
  if (split.rest.empty()) {
    return absl::InvalidArgumentError(
        "missing command after -- (usage: lease-run [flags] -- CMD ARGS...)");
  }
  options.command = split.rest;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LeaseRunOptions> ParseLeaseRunArgs(
    const std::vector<std::string>& args) {
  absl::StatusOr<SplitArgs> split = SplitCommandLine(
      args,
      {"ports", "count", "profile", "render", "env-file", "wait", "ttl",
       "watch-pid", "watch-start-time", "max-hold", "release-env-file",
       "ctest-resource-spec", "blocks", "ctest-fixture", "ctest-fixtures",
       "connect-timeout", "on-lease-loss", "listen-host", "compose-file"},
      {"help", "version", "quiet", "udp", "detach", "watch-ctest",
       "reuse-environment", "listen-fds", "compose", "compose-print"});
  if (!split.ok()) return split.status();
  LeaseRunOptions options;
  std::string connect_timeout;
  for (const auto& [name, value] : split->flags) {
    absl::Status applied =
        IsCtestModeFlag(name)
            ? ApplyCtestModeFlag(name, value, options)
            : ApplyRunFlag(name, value, options, connect_timeout);
    if (!applied.ok()) return applied;
  }
  if (options.help || options.version) return options;
  absl::StatusOr<absl::Duration> timeout =
      ConnectTimeoutSetting(connect_timeout, ProcessEnvironment());
  if (!timeout.ok()) return timeout.status();
  options.connect_timeout = *timeout;
  absl::Status listen = CheckListenFdsFlags(options);
  if (!listen.ok()) return listen;
  absl::Status modes = CheckLeaseRunModes(options, *split);
  if (!modes.ok()) return modes;
  absl::Status compose = CheckComposeFlags(options, *split);
  if (!compose.ok()) return compose;
  if (options.detach || !options.release_env_file.empty() ||
      options.compose_print) {
    return options;
  }
  absl::Status command = TakeCommand(*split, options);
  if (!command.ok()) return command;
  return options;
}

}  // namespace portlease
