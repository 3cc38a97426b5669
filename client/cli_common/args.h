// A small command line splitter shared by lease-run and portlease: it
// recognizes `--name=value`, `--name value`, boolean `--name`, and `--`.
#ifndef PORTLEASE_CLIENT_CLI_COMMON_ARGS_H_
#define PORTLEASE_CLIENT_CLI_COMMON_ARGS_H_

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace portlease {

struct SplitArgs {
  // Flags in command line order: name (without dashes) and value ("" for
  // boolean flags).
  std::vector<std::pair<std::string, std::string>> flags;
  // Arguments that are not flags, before "--".
  std::vector<std::string> positional;
  // Everything after the first "--".
  std::vector<std::string> rest;
  bool saw_dashdash = false;
};

// Splits `args`. `-h` is read as `--help`. INVALID_ARGUMENT for an unknown
// flag, a value flag without value, or a value given to a boolean flag.
absl::StatusOr<SplitArgs> SplitCommandLine(
    const std::vector<std::string>& args,
    const std::set<std::string>& value_flags,
    const std::set<std::string>& bool_flags);

// "300s", "5m", "1h30m", or a bare number of seconds. Must be positive.
absl::StatusOr<absl::Duration> ParseFlagDuration(const std::string& flag,
                                                 const std::string& value);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_CLI_COMMON_ARGS_H_
