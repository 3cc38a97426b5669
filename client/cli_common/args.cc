#include "cli_common/args.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace portlease {

absl::StatusOr<SplitArgs> SplitCommandLine(
    const std::vector<std::string>& args,
    const std::set<std::string>& value_flags,
    const std::set<std::string>& bool_flags) {
  SplitArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      out.saw_dashdash = true;
      out.rest.assign(args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (arg == "-h") {
      out.flags.emplace_back("help", "");
      continue;
    }
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      if (arg.size() > 1 && arg[0] == '-') {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown flag ", arg, " (see --help)"));
      }
      out.positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    if (bool_flags.count(name) > 0) {
      if (has_value) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " takes no value"));
      }
      out.flags.emplace_back(name, "");
    } else if (value_flags.count(name) > 0) {
      if (!has_value) {
        if (i + 1 >= args.size()) {
          return absl::InvalidArgumentError(
              absl::StrCat("flag --", name, " needs a value"));
        }
        value = args[++i];
      }
      out.flags.emplace_back(name, value);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name, " (see --help)"));
    }
  }
  return out;
}

absl::StatusOr<absl::Duration> ParseFlagDuration(const std::string& flag,
                                                 const std::string& value) {
  absl::Duration d;
  int64_t seconds = 0;
  if (absl::SimpleAtoi(value, &seconds)) {
    d = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(value, &d)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, "=", value, ": not a duration (e.g. 300s, 5m, 1h)"));
  }
  if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, "=", value, ": must be positive"));
  }
  return d;
}

}  // namespace portlease
