// The portlease CLI's flags: parsed once into CliFlags, and checked
// against the one table of what each command takes.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "portlease/lease_env.h"
#include "cli_common/acquire_flow.h"
#include "cli_common/args.h"
#include "cli/cli_internal.h"

namespace portlease {
namespace {

// --format=table|json|env|shell.
absl::StatusOr<OutputFormat> ParseFormat(const std::string& value) {
  if (value == "table") return OutputFormat::kTable;
  if (value == "json") return OutputFormat::kJson;
  if (value == "env") return OutputFormat::kEnv;
  if (value == "shell") return OutputFormat::kShell;
  return absl::InvalidArgumentError(
      absl::StrCat("--format=", value, ": want table, json, env or shell"));
}

// A positive count (--count, --limit); INVALID_ARGUMENT naming the flag.
absl::Status ParsePositive(absl::string_view flag, const std::string& value,
                           uint32_t& out) {
  if (!absl::SimpleAtoi(value, &out) || out == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " ", value, ": want a positive number"));
  }
  return absl::OkStatus();
}

// One flag into `flags`. --connect-timeout is kept as given in
// `connect_timeout`: it is settled once all flags are read.
absl::Status ApplyFlag(const std::string& name, const std::string& value,
                       CliFlags& flags, std::string& connect_timeout) {
  if (name == "help") {
    flags.help = true;
  } else if (name == "udp") {
    flags.udp = true;
  } else if (name == "docker") {
    flags.docker = true;
  } else if (name == "github-env") {
    flags.github_env = true;
  } else if (name == "force") {
    flags.force = true;
  } else if (name == "format") {
    flags.format_name = value;
    absl::StatusOr<OutputFormat> format = ParseFormat(value);
    if (!format.ok()) return format.status();
    flags.format = *format;
  } else if (name == "ports") {
    flags.ports = value;
  } else if (name == "count" || name == "limit") {
    return ParsePositive(name, value,
                         name == "count" ? flags.count : flags.limit);
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
  return absl::OkStatus();
}

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
      {"who", {"docker", "connect-timeout"}, {"table", "json"}, true},
      {"preflight", {"ports", "profile", "udp", "docker", "connect-timeout"},
       {}, true},
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

absl::StatusOr<CliFlags> ParseCliFlags(const std::vector<std::string>& args) {
  absl::StatusOr<SplitArgs> split = SplitCommandLine(
      args,
      {"format", "ports", "count", "profile", "ttl", "wait", "gitlab-dotenv",
       "owner", "admin-token-file", "pool", "exclude", "connect-timeout",
       "since", "limit"},
      {"help", "udp", "docker", "github-env", "force"});
  if (!split.ok()) return split.status();
  CliFlags flags;
  std::string connect_timeout;
  for (const auto& [name, value] : split->flags) {
    flags.given.push_back(name);
    absl::Status applied = ApplyFlag(name, value, flags, connect_timeout);
    if (!applied.ok()) return applied;
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

}  // namespace portlease
