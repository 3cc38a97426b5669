#include "portlease/gtest_environment.h"

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "portlease/profile.h"

extern char** environ;

namespace portlease {
namespace {

constexpr char kHowTo[] =
    "run it through ctest with a PortLease fixture (portlease_add_fixture + "
    "portlease_fixture_test / portlease_gtest_discover_tests, which set "
    "PORTLEASE_ENV_FILE), or under `lease-run --ports ... -- <test>`";

std::optional<std::string> Find(const Variables& vars, absl::string_view name) {
  for (auto it = vars.rbegin(); it != vars.rend(); ++it) {
    if (it->first == name) return it->second;
  }
  return std::nullopt;
}

Variables ProcessVariables() {
  Variables vars;
  for (char** e = environ; *e != nullptr; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq == nullptr) continue;
    vars.emplace_back(std::string(*e, static_cast<size_t>(eq - *e)),
                      std::string(eq + 1));
  }
  return vars;
}

}  // namespace

LeaseEnvironment::LeaseEnvironment(std::vector<std::string> required_ports)
    : required_ports_(std::move(required_ports)) {}

absl::StatusOr<Variables> LeaseEnvironment::Load(
    const VariableLookup& environment, const Variables& process_variables,
    const std::vector<std::string>& required_ports) {
  Variables vars;
  std::string source;
  const std::optional<std::string> env_file = environment("PORTLEASE_ENV_FILE");
  if (env_file.has_value() && !env_file->empty()) {
    absl::StatusOr<Variables> loaded = ReadVariablesFile(*env_file);
    if (loaded.status().code() == absl::StatusCode::kNotFound) {
      return absl::FailedPreconditionError(absl::StrCat(
          "portlease: no lease for this test: PORTLEASE_ENV_FILE=", *env_file,
          " does not exist (the fixture's setup test has not run, or its "
          "lease ended); ",
          kHowTo));
    }
    if (!loaded.ok()) return loaded.status();
    vars = *std::move(loaded);
    source = *env_file;
    // lease-exec loaded this file, and maybe other fixtures' files, into
    // the process environment: that is the superset.
    const std::optional<std::string> file_id = Find(vars, "PORTLEASE_LEASE_ID");
    if (file_id.has_value() &&
        Find(process_variables, "PORTLEASE_LEASE_ID") == file_id) {
      vars = process_variables;
    }
  } else if (Find(process_variables, "PORTLEASE_LEASE_ID").has_value()) {
    vars = process_variables;
    source = "the environment";
  } else {
    return absl::FailedPreconditionError(absl::StrCat(
        "portlease: no lease for this test: neither PORTLEASE_ENV_FILE nor "
        "PORTLEASE_LEASE_ID is set; ",
        kHowTo));
  }
  for (const std::string& name : required_ports) {
    const std::string variable = DefaultPortVariable(name);
    const std::optional<std::string> value = Find(vars, variable);
    uint32_t port = 0;
    if (!value.has_value() || !absl::SimpleAtoi(*value, &port) || port == 0 ||
        port > 65535) {
      return absl::FailedPreconditionError(absl::StrCat(
          "portlease: the lease in ", source, " has no port \"", name, "\" (",
          variable, "); lease it in the fixture (PORTS ", name,
          " ... or a PROFILE declaring it)"));
    }
  }
  return vars;
}

void LeaseEnvironment::SetUp() {
  absl::StatusOr<Variables> vars =
      Load(ProcessEnvironment(), ProcessVariables(), required_ports_);
  if (!vars.ok()) {
    GTEST_FAIL() << vars.status().message();
  }
  vars_ = *std::move(vars);
}

uint16_t LeaseEnvironment::Port(absl::string_view name) const {
  const std::optional<std::string> value =
      Find(vars_, DefaultPortVariable(name));
  uint32_t port = 0;
  if (!value.has_value() || !absl::SimpleAtoi(*value, &port) || port > 65535) {
    return 0;
  }
  return static_cast<uint16_t>(port);
}

std::optional<std::string> LeaseEnvironment::Get(
    absl::string_view variable) const {
  return Find(vars_, variable);
}

std::string LeaseEnvironment::lease_id() const {
  return Get("PORTLEASE_LEASE_ID").value_or("");
}

}  // namespace portlease
