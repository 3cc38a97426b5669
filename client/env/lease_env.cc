#include "portlease/lease_env.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "portlease/profile.h"
#include "common/system/files.h"

namespace portlease {

namespace {

// The part of COMPOSE_PROJECT_NAME that names the lease.
std::string ComposeLeaseTag(absl::string_view lease_id) {
  std::string id;
  for (char c : lease_id.substr(0, 8)) {
    if (absl::ascii_isalnum(c)) id.push_back(absl::ascii_tolower(c));
  }
  if (id.empty()) id = "0";
  return id;
}

}  // namespace

std::string ComposeProjectName(absl::string_view checkout_dir,
                               absl::string_view lease_id) {
  while (checkout_dir.size() > 1 && checkout_dir.back() == '/') {
    checkout_dir.remove_suffix(1);
  }
  absl::string_view base = checkout_dir;
  if (const size_t slash = base.rfind('/'); slash != absl::string_view::npos) {
    base = base.substr(slash + 1);
  }
  std::string name;
  for (char c : base) {
    c = absl::ascii_tolower(c);
    if (absl::ascii_isalnum(c) || c == '_' || c == '-') {
      name.push_back(c);
    } else if (!name.empty() && name.back() != '-') {
      name.push_back('-');
    }
    if (name.size() >= 40) break;
  }
  while (!name.empty() && !absl::ascii_isalnum(name.front())) {
    name.erase(name.begin());
  }
  if (name.empty()) name = "portlease";
  return absl::StrCat(name, "-", ComposeLeaseTag(lease_id));
}

VariableLookup ChainLookup(const Variables& vars, VariableLookup fallback) {
  return [&vars, fallback = std::move(fallback)](
             absl::string_view name) -> std::optional<std::string> {
    for (auto it = vars.rbegin(); it != vars.rend(); ++it) {
      if (it->first == name) return it->second;
    }
    if (fallback) return fallback(name);
    return std::nullopt;
  };
}

VariableLookup ProcessEnvironment() {
  return [](absl::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::string PortVariable(absl::string_view port_name, int index,
                         const v1::Profile* profile) {
  if (port_name.empty()) return absl::StrCat("PORT_", index);
  std::string var = DefaultPortVariable(port_name);
  if (profile != nullptr) {
    for (const v1::Profile::Port& declared : profile->ports()) {
      if (declared.name() == port_name && !declared.env().empty()) {
        var = declared.env();
      }
    }
  }
  return var;
}

absl::StatusOr<Variables> LeaseVariables(const v1::Lease& lease,
                                         const v1::Profile* profile,
                                         const VariableLookup& environment,
                                         absl::string_view checkout_dir) {
  Variables vars;
  std::vector<std::string> ports;
  for (int i = 0; i < lease.ports_size(); ++i) {
    const v1::PortAssignment& port = lease.ports(i);
    std::string var = PortVariable(port.name(), i, profile);
    ports.push_back(absl::StrCat(port.port()));
    vars.emplace_back(std::move(var), ports.back());
  }
  vars.emplace_back("PORTLEASE_LEASE_ID", lease.lease_id());
  vars.emplace_back("PORTLEASE_PORTS", absl::StrJoin(ports, " "));
  std::optional<std::string> compose;
  if (environment) compose = environment("COMPOSE_PROJECT_NAME");
  // A name an outer lease-run derived from its own lease is not the user's
  // choice: a nested lease (a test under `lease-run -- ctest`) gets its own
  // project, or two tests' compose stacks would be one.
  if (compose.has_value() && !compose->empty()) {
    const std::optional<std::string> outer = environment("PORTLEASE_LEASE_ID");
    if (outer.has_value() && !outer->empty() &&
        absl::EndsWith(*compose, absl::StrCat("-", ComposeLeaseTag(*outer)))) {
      compose.reset();
    }
  }
  if (!compose.has_value() || compose->empty()) {
    vars.emplace_back("COMPOSE_PROJECT_NAME",
                      ComposeProjectName(checkout_dir, lease.lease_id()));
  }
  if (profile != nullptr) {
    VariableLookup lookup = ChainLookup(vars, environment);
    for (const v1::Profile::Var& var : profile->vars()) {
      absl::StatusOr<std::string> value = ExpandTemplate(
          var.value(), lookup, absl::StrCat("profile variable ", var.name()));
      if (!value.ok()) return value.status();
      vars.emplace_back(var.name(), *std::move(value));
    }
  }
  return vars;
}

absl::StatusOr<std::optional<Variables>> LeaseVariablesFromEnvironment(
    const v1::Profile* profile, uint32_t count,
    const VariableLookup& environment,
    const std::function<bool(absl::string_view)>& is_port) {
  const std::optional<std::string> lease_id = environment("PORTLEASE_LEASE_ID");
  if (!lease_id.has_value() || lease_id->empty()) return std::nullopt;
  std::vector<std::string> names;
  if (profile != nullptr) {
    for (int i = 0; i < profile->ports_size(); ++i) {
      names.push_back(PortVariable(profile->ports(i).name(), i, profile));
    }
  } else {
    for (uint32_t i = 0; i < count; ++i) {
      names.push_back(PortVariable("", static_cast<int>(i), nullptr));
    }
  }
  Variables vars;
  std::vector<std::string> ports;
  for (const std::string& name : names) {
    const std::optional<std::string> value = environment(name);
    if (!value.has_value() || !is_port(*value)) return std::nullopt;
    ports.push_back(*value);
    vars.emplace_back(name, *value);
  }
  vars.emplace_back("PORTLEASE_LEASE_ID", *lease_id);
  vars.emplace_back("PORTLEASE_PORTS", absl::StrJoin(ports, " "));
  if (std::optional<std::string> compose = environment("COMPOSE_PROJECT_NAME");
      compose.has_value() && !compose->empty()) {
    vars.emplace_back("COMPOSE_PROJECT_NAME", *compose);
  }
  if (profile != nullptr) {
    for (const v1::Profile::Var& var : profile->vars()) {
      absl::StatusOr<std::string> value =
          ExpandTemplate(var.value(), ChainLookup(vars, environment),
                         absl::StrCat("profile variable ", var.name()));
      if (!value.ok()) return value.status();
      vars.emplace_back(var.name(), *std::move(value));
    }
  }
  return std::optional<Variables>(std::move(vars));
}

bool IsReservedVariableName(absl::string_view name) {
  if (name == "PATH" || name == "HOME" || name == "SHELL" || name == "USER" ||
      name == "COMPOSE_PROJECT_NAME" || absl::StartsWith(name, "LD_") ||
      absl::StartsWith(name, "PORTLEASE_")) {
    return true;
  }
  // PORT_<n>: the variables of unnamed ports (leases by count).
  absl::string_view index = name;
  return absl::ConsumePrefix(&index, "PORT_") && !index.empty() &&
         std::all_of(index.begin(), index.end(),
                     [](char c) { return absl::ascii_isdigit(c); });
}

std::string FormatEnvLines(const Variables& vars) {
  std::string out;
  for (const auto& [key, value] : vars) {
    absl::StrAppend(&out, key, "=", ShellQuote(value), "\n");
  }
  return out;
}

absl::StatusOr<std::string> FormatGitLabDotenv(const Variables& vars) {
  std::string out;
  for (const auto& [key, value] : vars) {
    if (value.find_first_of("\r\n") != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the value of ", key,
          " spans lines, which a GitLab dotenv report cannot carry"));
    }
    absl::StrAppend(&out, key, "=", value, "\n");
  }
  return out;
}

std::string FormatGitHubEnv(
    const Variables& vars, const std::function<std::string()>& make_delimiter) {
  auto multiline = [](const std::string& value) {
    return value.find_first_of("\r\n") != std::string::npos;
  };
  std::string delimiter;
  for (bool fits = false; !fits;) {
    delimiter = make_delimiter();
    fits = !delimiter.empty();
    for (const auto& [key, value] : vars) {
      if (multiline(value) && absl::StrContains(value, delimiter)) fits = false;
    }
  }
  std::string out;
  for (const auto& [key, value] : vars) {
    if (multiline(value)) {
      absl::StrAppend(&out, key, "<<", delimiter, "\n", value, "\n", delimiter,
                      "\n");
    } else {
      absl::StrAppend(&out, key, "=", value, "\n");
    }
  }
  return out;
}

std::string RandomDelimiter() {
  std::random_device random;
  std::string out = "PORTLEASE_EOF_";
  for (int i = 0; i < 4; ++i) {
    absl::StrAppend(&out, absl::Hex(random(), absl::kZeroPad8));
  }
  return out;
}

std::string ShellQuote(absl::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  out += "'";
  return out;
}

std::string FormatShellExports(const Variables& vars) {
  std::string out;
  for (const auto& [key, value] : vars) {
    absl::StrAppend(&out, "export ", key, "=", ShellQuote(value), "\n");
  }
  return out;
}

absl::Status RenderTemplateFile(absl::string_view spec,
                                const VariableLookup& lookup) {
  const size_t colon = spec.find(':');
  if (colon == absl::string_view::npos || colon == 0 ||
      colon + 1 == spec.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--render ", spec, ": want TEMPLATE:OUTPUT"));
  }
  const std::string input(spec.substr(0, colon));
  const std::string output(spec.substr(colon + 1));
  absl::StatusOr<std::string> read = ReadFile(input);
  if (!read.ok()) {
    return absl::Status(read.status().code(),
                        absl::StrCat("--render template: ", read.status().message()));
  }
  absl::StatusOr<std::string> text = ExpandTemplate(*read, lookup, input);
  if (!text.ok()) return text.status();
  return WriteFileAtomically(output, *text, 0666);
}

absl::Status WritePrivateFile(const std::string& path,
                              absl::string_view content) {
  return WriteFileAtomically(path, content, 0600);
}

absl::Status AppendPrivateFile(const std::string& path,
                               absl::string_view content) {
  return AppendToFile(path, content, 0600);
}

absl::Status WriteVariablesFile(const std::string& path, const Variables& vars,
                                bool append) {
  return append ? AppendPrivateFile(path, FormatEnvLines(vars))
                : WritePrivateFile(path, FormatEnvLines(vars));
}

namespace {

// Reads a shell-quoted VALUE starting at text[*pos] (a single quote) up to
// the first unquoted newline or the end; *pos ends on that newline. False
// for an unterminated quote.
bool ParseQuotedValue(absl::string_view text, size_t* pos, int* line,
                      std::string* value) {
  size_t i = *pos;
  while (i < text.size() && text[i] != '\n') {
    const char c = text[i];
    if (c == '\'') {
      const size_t close = text.find('\'', i + 1);
      if (close == absl::string_view::npos) return false;
      absl::string_view quoted = text.substr(i + 1, close - i - 1);
      *line += static_cast<int>(std::count(quoted.begin(), quoted.end(), '\n'));
      value->append(quoted.data(), quoted.size());
      i = close + 1;
    } else if (c == '\\' && i + 1 < text.size() && text[i + 1] != '\n') {
      value->push_back(text[i + 1]);
      i += 2;
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++i;
    } else {
      value->push_back(c);
      ++i;
    }
  }
  *pos = i;
  return true;
}

}  // namespace

absl::StatusOr<Variables> ParseEnvLines(absl::string_view text,
                                        absl::string_view source_name) {
  Variables vars;
  int line_number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    ++line_number;
    size_t end = text.find('\n', pos);
    if (end == absl::string_view::npos) end = text.size();
    absl::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t eq = line.find('=');
    if (line.empty() || line.front() == '#') {
      pos = end + 1;
      continue;
    }
    const int first_line = line_number;
    auto error = [&](absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_name, ":", first_line, ": ", what));
    };
    if (eq == absl::string_view::npos ||
        !IsValidVariableName(line.substr(0, eq))) {
      return error("want KEY=value");
    }
    std::string value;
    if (eq + 1 < line.size() && line[eq + 1] == '\'') {
      size_t value_pos = pos + eq + 1;
      if (!ParseQuotedValue(text, &value_pos, &line_number, &value)) {
        return error("unterminated quote");
      }
      end = value_pos;
    } else {
      value = std::string(line.substr(eq + 1));
    }
    vars.emplace_back(std::string(line.substr(0, eq)), std::move(value));
    pos = end + 1;
  }
  return vars;
}

absl::StatusOr<Variables> ReadVariablesFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (absl::IsNotFound(text.status())) {
    return absl::NotFoundError(absl::StrCat(path, " does not exist"));
  }
  if (!text.ok()) return text.status();
  return ParseEnvLines(*text, path);
}

}  // namespace portlease
