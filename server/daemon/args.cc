#include "server/daemon/args.h"

#include <algorithm>
#include <map>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"

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

std::string ValueName(const absl::CommandLineFlag& flag) {
  if (flag.IsOfType<int>() || flag.IsOfType<int64_t>() ||
      flag.IsOfType<uint32_t>() || flag.IsOfType<uint64_t>()) {
    return "N";
  }
  if (flag.IsOfType<double>()) return "X";
  if (flag.IsOfType<absl::Duration>()) return "DURATION";
  if (flag.IsOfType<std::vector<std::string>>()) return "LIST";
  return "VALUE";
}

// `text` as lines of at most `width` columns, each starting with `indent`.
void AppendWrapped(absl::string_view text, absl::string_view indent,
                   size_t width, std::string* out) {
  std::string line(indent);
  for (absl::string_view word :
       absl::StrSplit(text, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    if (line.size() > indent.size() && line.size() + 1 + word.size() > width) {
      absl::StrAppend(out, line, "\n");
      line = std::string(indent);
    }
    if (line.size() > indent.size()) line += ' ';
    absl::StrAppend(&line, word);
  }
  if (line.size() > indent.size()) absl::StrAppend(out, line, "\n");
}

}  // namespace

std::string FormatFlagHelp(
    absl::string_view file_part,
    const std::map<std::string, std::string>& value_names) {
  std::map<std::string, const absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!flag->IsRetired() && absl::StrContains(flag->Filename(), file_part)) {
      flags[std::string(name)] = flag;
    }
  }
  std::string out;
  for (const auto& [name, flag] : flags) {
    // Shown in the dashed spelling; --flag_name works as well.
    const std::string shown = absl::StrReplaceAll(name, {{"_", "-"}});
    if (flag->IsOfType<bool>()) {
      absl::StrAppend(&out, "    --[no]", shown, "\n");
    } else {
      auto it = value_names.find(name);
      absl::StrAppend(&out, "    --", shown, "=",
                      it != value_names.end() ? it->second : ValueName(*flag),
                      "\n");
    }
    std::string text = flag->Help();
    if (!text.empty() && !absl::EndsWith(text, ".")) text += '.';
    const std::string default_value = flag->DefaultValue();
    absl::StrAppend(&text, " Default: ",
                    default_value.empty() ? "none" : default_value, ".");
    AppendWrapped(text, "        ", 80, &out);
  }
  return out;
}

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
    // As typed, for messages.
    const absl::string_view typed = arg.substr(0, eq);
    // --flag-name and --flag_name are one flag.
    std::string name = absl::StrReplaceAll(typed, {{"-", "_"}});
    const bool has_value = eq != absl::string_view::npos;
    std::string value(has_value ? arg.substr(eq + 1) : "");
    if (IsAbslBuiltin(name)) {
      out.push_back(has_value ? absl::StrCat("--", name, "=", value)
                              : absl::StrCat("--", name));
      continue;
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && !has_value && absl::StartsWith(name, "no")) {
      absl::CommandLineFlag* negated =
          absl::FindCommandLineFlag(absl::string_view(name).substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) {
        out.push_back(absl::StrCat("--", name));
        continue;
      }
    }
    if (flag == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", typed, " (see --help)"));
    }
    if (!has_value) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", typed, " needs a value"));
      }
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad value \"", value, "\" for --", typed, ": ", error));
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
