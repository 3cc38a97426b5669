#include "server/portleased_args.h"

#include <algorithm>
#include <map>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace portlease {
namespace {

bool IsAbslBuiltin(absl::string_view name) {
  static constexpr absl::string_view kBuiltins[] = {
      "help",    "helpfull",   "helpshort", "helppackage",
      "helpon",  "helpmatch",  "version",   "flagfile",
      "fromenv", "tryfromenv", "undefok",   "only_check_args"};
  return std::find(std::begin(kBuiltins), std::end(kBuiltins), name) !=
         std::end(kBuiltins);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> PrepareArgs(
    const std::vector<std::string>& args,
    const std::vector<std::string>& accumulate) {
  std::vector<std::string> out;
  if (!args.empty()) out.push_back(args[0]);
  std::map<std::string, std::vector<std::string>> joined;
  std::map<std::string, size_t> joined_at;  // index in `out`
  for (size_t i = 1; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--") {
      if (i + 1 < args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("unexpected argument \"", args[i + 1], "\""));
      }
      break;
    }
    if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unexpected argument \"", arg, "\" (every setting is a --flag)"));
    }
    const size_t eq = arg.find('=');
    std::string name(arg.substr(0, eq));
    const bool has_value = eq != absl::string_view::npos;
    std::string value(has_value ? arg.substr(eq + 1) : "");
    if (IsAbslBuiltin(name)) {
      out.push_back(args[i]);
      continue;
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && !has_value && absl::StartsWith(name, "no")) {
      absl::CommandLineFlag* negated =
          absl::FindCommandLineFlag(absl::string_view(name).substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) {
        out.push_back(args[i]);
        continue;
      }
    }
    if (flag == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    if (!has_value) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " needs a value"));
      }
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad value \"", value, "\" for --", name, ": ", error));
    }
    if (std::find(accumulate.begin(), accumulate.end(), name) !=
        accumulate.end()) {
      if (!joined.count(name)) {
        joined_at[name] = out.size();
        out.push_back("");
      }
      joined[name].push_back(value);
      continue;
    }
    out.push_back(absl::StrCat("--", name, "=", value));
  }
  for (const auto& [name, values] : joined) {
    out[joined_at[name]] =
        absl::StrCat("--", name, "=", absl::StrJoin(values, ","));
  }
  return out;
}

}  // namespace portlease
