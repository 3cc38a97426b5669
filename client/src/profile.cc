#include "portlease/profile.h"

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
#include "portlease/template.h"

namespace portlease {
namespace {

constexpr int kMaxPorts = 64;

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

absl::Status ValidateProfile(v1::Profile& profile,
                             absl::string_view source_name) {
  auto error = [&](auto&&... parts) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ": ", parts...));
  };
  if (profile.ports_size() == 0) return error("no ports declared");
  if (profile.ports_size() > kMaxPorts) {
    return error(profile.ports_size(), " ports declared, at most ", kMaxPorts);
  }
  std::set<std::string> names;
  std::set<std::string> vars;
  for (v1::Profile::Port& port : *profile.mutable_ports()) {
    if (!IsValidPortName(port.name())) {
      return error("bad port name \"", port.name(),
                   "\" (want [a-z][a-z0-9_-]{0,31})");
    }
    if (!names.insert(port.name()).second) {
      return error("port \"", port.name(), "\" declared twice");
    }
    if (port.env().empty()) port.set_env(DefaultPortVariable(port.name()));
    if (!IsValidVariableName(port.env())) {
      return error("port \"", port.name(), "\": bad variable name \"",
                   port.env(), "\"");
    }
    if (!vars.insert(port.env()).second) {
      return error("variable ", port.env(), " declared twice");
    }
    if (port.default_port() > 65535) {
      return error("port \"", port.name(), "\": default_port ",
                   port.default_port(), " out of range");
    }
  }
  for (const v1::Profile::Var& var : profile.vars()) {
    if (!IsValidVariableName(var.name())) {
      return error("bad variable name \"", var.name(), "\"");
    }
    if (!vars.insert(var.name()).second) {
      return error("variable ", var.name(), " declared twice");
    }
  }
  return absl::OkStatus();
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
          absl::StrCat(source_name, ": invalid JSON profile: ",
                       std::string(status.message())));
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
  absl::Status valid = ValidateProfile(profile, source_name);
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
