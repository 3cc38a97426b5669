#include "portlease/profile.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "portlease/lease_env.h"
#include "portlease/template.h"

namespace portlease {
namespace {

constexpr int kMaxPorts = 64;

// Why a reserved name is refused (IsReservedVariableName).
constexpr char kReservedNote[] =
    " (PATH, HOME, SHELL, USER, LD_*, PORTLEASE_*, COMPOSE_PROJECT_NAME and "
    "PORT_<n> are the environment's or lease-run's own); choose another name";

// Collects text format parse errors into one message.
class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!first_.empty()) return;
    first_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

}  // namespace

bool IsValidPortName(absl::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  if (!absl::ascii_islower(name[0])) return false;
  for (char c : name) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

std::string DefaultPortVariable(absl::string_view name) {
  std::string var = absl::AsciiStrToUpper(name);
  for (char& c : var) {
    if (c == '-') c = '_';
  }
  return var + "_PORT";
}

namespace {

// "LINE:COLUMN" (1-based) of byte `at` of `content`.
std::string LineColumn(absl::string_view content, size_t at) {
  const absl::string_view before = content.substr(0, at);
  const size_t line_start = before.rfind('\n');
  const size_t column =
      line_start == absl::string_view::npos ? at + 1 : at - line_start;
  return absl::StrCat(std::count(before.begin(), before.end(), '\n') + 1, ":",
                      column);
}

// "LINE:COLUMN" (1-based) of the first occurrence of `value` as a quoted
// string in `content`, or "" when there is none: a best effort, since
// neither parser reports where a field was.
std::string LocateString(absl::string_view content, absl::string_view value) {
  for (const char quote : {'"', '\''}) {
    const std::string quoted =
        absl::StrCat(std::string(1, quote), value, std::string(1, quote));
    const size_t at = content.find(quoted);
    if (at == absl::string_view::npos) continue;
    return LineColumn(content, at);
  }
  return "";
}

// One line for protobuf's JSON syntax error `message`: "LINE:COLUMN: what"
// when the position can be found, else " what". The message is the reason,
// a line break, the text around the error (up to 20 bytes either side) and
// a line with a caret under the error; the position is where that text
// occurs in `content` plus the caret's column.
std::string JsonErrorLine(absl::string_view content, absl::string_view message) {
  const size_t first_break = message.find('\n');
  const std::string reason =
      absl::StrCat(" ", message.substr(0, first_break));
  if (first_break == absl::string_view::npos) return reason;
  const size_t last_break = message.rfind('\n');
  const absl::string_view caret_line = message.substr(last_break + 1);
  const size_t caret = caret_line.find('^');
  if (caret == absl::string_view::npos ||
      caret_line.find_first_not_of(' ') != caret ||
      last_break <= first_break) {
    return reason;
  }
  const absl::string_view around =
      message.substr(first_break + 1, last_break - first_break - 1);
  const size_t at = content.find(around);
  if (around.empty() || at == absl::string_view::npos ||
      content.find(around, at + 1) != absl::string_view::npos) {
    return reason;
  }
  return absl::StrCat(LineColumn(content, std::min(at + caret, content.size())),
                      ":", reason);
}

// ValidateProfile; errors about a named entry point at its first
// occurrence in `content` (empty: no location).
absl::Status ValidateProfileText(v1::Profile& profile,
                                 absl::string_view source_name,
                                 absl::string_view content) {
  // `entry` is the string the error is about, "" for none.
  auto error = [&](absl::string_view entry, auto&&... parts) {
    std::string where(source_name);
    if (const std::string at = entry.empty() || content.empty()
                                   ? std::string()
                                   : LocateString(content, entry);
        !at.empty()) {
      absl::StrAppend(&where, ":", at);
    }
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", parts...));
  };
  if (profile.ports_size() == 0) return error("", "no ports declared");
  if (profile.ports_size() > kMaxPorts) {
    return error("", profile.ports_size(), " ports declared, at most ",
                 kMaxPorts);
  }
  std::set<std::string> names;
  std::set<std::string> vars;
  for (v1::Profile::Port& port : *profile.mutable_ports()) {
    if (!IsValidPortName(port.name())) {
      return error(port.name(), "bad port name \"", port.name(),
                   "\" (want [a-z][a-z0-9_-]{0,31})");
    }
    if (!names.insert(port.name()).second) {
      return error(port.name(), "port \"", port.name(), "\" declared twice");
    }
    // A defaulted variable name is the port name's doing: point there.
    const std::string entry = port.env().empty() ? port.name() : port.env();
    if (port.env().empty()) port.set_env(DefaultPortVariable(port.name()));
    if (!IsValidVariableName(port.env())) {
      return error(entry, "port \"", port.name(), "\": bad variable name \"",
                   port.env(), "\" (want [A-Za-z_][A-Za-z0-9_]*)");
    }
    if (IsReservedVariableName(port.env())) {
      return error(entry, "port \"", port.name(), "\": variable ", port.env(),
                   " is reserved", kReservedNote);
    }
    if (!vars.insert(port.env()).second) {
      return error(entry, "variable ", port.env(), " declared twice");
    }
    if (port.default_port() > 65535) {
      return error(port.name(), "port \"", port.name(), "\": default_port ",
                   port.default_port(), " out of range");
    }
  }
  for (const v1::Profile::Var& var : profile.vars()) {
    if (!IsValidVariableName(var.name())) {
      return error(var.name(), "bad variable name \"", var.name(),
                   "\" (want [A-Za-z_][A-Za-z0-9_]*)");
    }
    if (IsReservedVariableName(var.name())) {
      return error(var.name(), "variable ", var.name(), " is reserved",
                   kReservedNote);
    }
    if (!vars.insert(var.name()).second) {
      return error(var.name(), "variable ", var.name(), " declared twice");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateProfile(v1::Profile& profile,
                             absl::string_view source_name) {
  return ValidateProfileText(profile, source_name, "");
}

absl::StatusOr<v1::Profile> ParseProfile(absl::string_view content,
                                         absl::string_view source_name) {
  v1::Profile profile;
  absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(content);
  if (!trimmed.empty() && trimmed[0] == '{') {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    auto status = google::protobuf::util::JsonStringToMessage(
        std::string(content), &profile, options);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_name, ":", JsonErrorLine(content, std::string(status.message())),
                       " (invalid JSON profile)"));
    }
  } else {
    google::protobuf::TextFormat::Parser parser;
    ErrorCollector errors;
    parser.RecordErrorsTo(&errors);
    if (!parser.ParseFromString(std::string(content), &profile)) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_name, ":", errors.first()));
    }
  }
  absl::Status valid = ValidateProfileText(profile, source_name, content);
  if (!valid.ok()) return valid;
  return profile;
}

absl::StatusOr<v1::Profile> LoadProfile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    std::string message =
        absl::StrCat("cannot read profile ", path, ": ", std::strerror(err));
    return err == EACCES ? absl::PermissionDeniedError(message)
                         : absl::NotFoundError(message);
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseProfile(buffer.str(), path);
}

absl::StatusOr<v1::Profile> ProfileFromNames(
    const std::vector<std::string>& names) {
  v1::Profile profile;
  for (const std::string& name : names) profile.add_ports()->set_name(name);
  absl::Status valid = ValidateProfile(profile, "--ports");
  if (!valid.ok()) return valid;
  return profile;
}

absl::StatusOr<PortRequest> MakePortRequest(const std::string& ports_csv,
                                            uint32_t count,
                                            const std::string& profile_path) {
  const int given = (ports_csv.empty() ? 0 : 1) + (count == 0 ? 0 : 1) +
                    (profile_path.empty() ? 0 : 1);
  if (given != 1) {
    return absl::InvalidArgumentError(
        "give exactly one of --ports NAME,..., --count N, --profile FILE");
  }
  PortRequest request;
  if (count != 0) {
    if (count > kMaxPorts) {
      return absl::InvalidArgumentError(
          absl::StrCat("--count ", count, ": at most ", kMaxPorts, " ports"));
    }
    request.count = count;
    return request;
  }
  absl::StatusOr<v1::Profile> profile =
      profile_path.empty()
          ? ProfileFromNames(absl::StrSplit(ports_csv, ',', absl::SkipEmpty()))
          : LoadProfile(profile_path);
  if (!profile.ok()) return profile.status();
  request.profile = *std::move(profile);
  return request;
}

}  // namespace portlease
