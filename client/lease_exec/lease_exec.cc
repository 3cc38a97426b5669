// lease-exec's logic: flags, mode selection, env files, exec.
#include "lease_exec/lease_exec.h"

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/conventions/exit_codes.h"
#include "common/system/c_string_array.h"
#include "portlease/ctest_resources.h"

namespace portlease {
namespace {

constexpr char kEnvFileVariable[] = "PORTLEASE_ENV_FILE";

std::string Absolute(const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  char buf[4096];
  if (getcwd(buf, sizeof(buf)) == nullptr) return path;
  return absl::StrCat(buf, "/", path);
}

absl::StatusOr<Variables> ReadLeaseFile(const std::string& path,
                                        absl::string_view what) {
  absl::StatusOr<Variables> vars = ReadVariablesFile(path);
  if (vars.status().code() == absl::StatusCode::kNotFound) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no lease: ", what, " ", path,
        " does not exist (has the fixture's setup test run? tests using a "
        "PortLease fixture need FIXTURES_REQUIRED)"));
  }
  return vars;
}

// Variables every lease has; with several files the first file's are kept
// (PORTLEASE_PORTS lists the ports of all of them).
bool IsPerLeaseVariable(absl::string_view name) {
  return name == "PORTLEASE_LEASE_ID" || name == "COMPOSE_PROJECT_NAME" ||
         name == "PORTLEASE_HOLDER_PID" ||
         name == "PORTLEASE_HOLDER_START_TIME" || name == kEnvFileVariable;
}

absl::StatusOr<LeaseExecPlan> LoadEnvFiles(
    const std::vector<std::string>& paths, const std::vector<std::string>& argv,
    absl::string_view what) {
  LeaseExecPlan plan;
  plan.argv = argv;
  std::map<std::string, std::string> origin;  // variable -> file
  for (const std::string& path : paths) {
    absl::StatusOr<Variables> vars = ReadLeaseFile(path, what);
    if (!vars.ok()) return vars.status();
    for (auto& [key, value] : *vars) {
      auto [it, added] = origin.emplace(key, path);
      if (added) {
        plan.vars.emplace_back(key, std::move(value));
        continue;
      }
      if (key == "PORTLEASE_PORTS") {
        for (auto& [k, v] : plan.vars) {
          if (k == key) absl::StrAppend(&v, " ", value);
        }
      } else if (!IsPerLeaseVariable(key)) {
        return absl::InvalidArgumentError(absl::StrCat(
            key, " is in both ", it->second, " and ", path,
            " (two fixtures export the same variable: rename a port or "
            "use one fixture)"));
      }
    }
  }
  plan.vars.emplace_back(kEnvFileVariable, Absolute(paths.front()));
  return plan;
}

}  // namespace

const char* LeaseExecUsage() {
  return R"(NAME
    lease-exec - run a command with the variables of a lease held elsewhere

SYNOPSIS
    lease-exec [--env-file FILE... | --from-resource-group [--resource-spec FILE]] [--] COMMAND [ARG...]

DESCRIPTION
    Loads a lease's variables (REDIS_PORT=..., PORTLEASE_LEASE_ID, ...) and
    execs COMMAND with them in its environment, plus PORTLEASE_ENV_FILE (the
    absolute path of the file they came from). The lease is held by someone
    else: a CTest fixture's setup (`lease-run --detach`, see
    ctest/PortLease.cmake) or `lease-run --ctest-resource-spec`.

    With neither flag: $PORTLEASE_ENV_FILE when set, else the CTest resource
    group when CTEST_RESOURCE_GROUP_COUNT is set.

    Discovery: when an ARG is --gtest_list_tests, or PORTLEASE_DISCOVERY is
    set (not "0"), COMMAND runs unchanged and no lease is needed, so
    gtest_discover_tests works before any fixture has run.

OPTIONS
    --env-file FILE         KEY=value lines (lease-run --env-file).
                            Repeatable: the leases of several fixtures. A
                            port variable in two files is an error;
                            PORTLEASE_LEASE_ID, COMPOSE_PROJECT_NAME and
                            PORTLEASE_ENV_FILE come from the first file,
                            PORTLEASE_PORTS lists the ports of all.
    --from-resource-group   The port block CTest allotted to this test
                            (RESOURCE_GROUPS "portlease:1").
    --resource-spec FILE    The spec written by lease-run
                            --ctest-resource-spec (default:
                            $PORTLEASE_RESOURCE_SPEC).
    -h, --help              Show this text.

ENVIRONMENT
    PORTLEASE_ENV_FILE      The env file to load when no flag names one;
                            set for COMMAND to the file used.
    CTEST_RESOURCE_GROUP_COUNT, CTEST_RESOURCE_GROUP_0, ...
                            Set by ctest for tests with RESOURCE_GROUPS: the
                            block allotted to this test.
    PORTLEASE_RESOURCE_SPEC
                            The default --resource-spec.
    PORTLEASE_DISCOVERY     Set (not "0"): run COMMAND without a lease.

EXIT STATUS
    COMMAND's status, or: 2 usage; 1 no lease (the env file does not exist,
    no resource group); 126/127 COMMAND not executable / not found.

EXAMPLES
    lease-exec --env-file build/m2.env -- ./m2_test
    lease-exec -- ./m2_test --gtest_list_tests
    lease-exec --from-resource-group -- ./m2_test

SEE ALSO
    lease-run(1), portlease(1), portleased(8)
)";
}

absl::StatusOr<LeaseExecOptions> ParseLeaseExecArgs(
    const std::vector<std::string>& args) {
  LeaseExecOptions options;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.empty() || arg.front() != '-') break;
    if (arg == "-h" || arg == "--help") {
      options.help = true;
      return options;
    }
    if (arg == "--from-resource-group") {
      options.from_resource_group = true;
      continue;
    }
    std::string* target = nullptr;
    absl::string_view name = arg;
    std::string env_file;
    if (absl::ConsumePrefix(&name, "--env-file")) {
      target = &env_file;
    } else if (absl::ConsumePrefix(&name, "--resource-spec")) {
      target = &options.resource_spec;
    }
    if (target == nullptr || !(name.empty() || name.front() == '=')) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag ", arg, " (see --help)"));
    }
    if (!name.empty()) {
      *target = std::string(name.substr(1));
    } else if (i + 1 < args.size()) {
      *target = args[++i];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("flag ", arg, " needs a value"));
    }
    if (target->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("flag ", arg, " needs a value"));
    }
    if (!env_file.empty()) options.env_files.push_back(std::move(env_file));
  }
  options.command.assign(args.begin() + static_cast<long>(i), args.end());
  if (!options.env_files.empty() && options.from_resource_group) {
    return absl::InvalidArgumentError(
        "--env-file and --from-resource-group exclude each other");
  }
  if (!options.resource_spec.empty() && !options.from_resource_group) {
    return absl::InvalidArgumentError(
        "--resource-spec needs --from-resource-group");
  }
  if (options.command.empty()) {
    return absl::InvalidArgumentError(
        "missing command (usage: lease-exec [flags] [--] CMD ARGS...)");
  }
  return options;
}

bool IsDiscoveryRun(const std::vector<std::string>& command,
                    const VariableLookup& environment) {
  for (size_t i = 1; i < command.size(); ++i) {
    if (command[i] == "--gtest_list_tests") return true;
  }
  const std::optional<std::string> discovery =
      environment("PORTLEASE_DISCOVERY");
  return discovery.has_value() && !discovery->empty() && *discovery != "0";
}

absl::StatusOr<LeaseExecPlan> PlanLeaseExec(const LeaseExecOptions& options,
                                            const VariableLookup& environment) {
  if (IsDiscoveryRun(options.command, environment)) {
    LeaseExecPlan plan;
    plan.argv = options.command;
    plan.pass_through = true;
    return plan;
  }
  if (!options.env_files.empty()) {
    return LoadEnvFiles(options.env_files, options.command, "--env-file");
  }
  bool from_group = options.from_resource_group;
  if (!from_group) {
    const std::optional<std::string> env_file = environment(kEnvFileVariable);
    if (env_file.has_value() && !env_file->empty()) {
      return LoadEnvFiles({*env_file}, options.command, kEnvFileVariable);
    }
    from_group = environment("CTEST_RESOURCE_GROUP_COUNT").has_value();
  }
  if (!from_group) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no lease: give --env-file or --from-resource-group, or set ",
        kEnvFileVariable,
        " (tests using a PortLease fixture get it from the module)"));
  }
  std::string spec = options.resource_spec;
  if (spec.empty()) spec = environment(kResourceSpecVariable).value_or("");
  if (spec.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no resource spec: ", kResourceSpecVariable,
        " is not set (run ctest under lease-run --ctest-resource-spec FILE, "
        "or pass --resource-spec FILE)"));
  }
  absl::StatusOr<std::string> block = AssignedResourceBlock(environment);
  if (!block.ok()) return block.status();
  return LoadEnvFiles({ResourceBlockEnvFile(spec, *block)}, options.command,
                      "the resource block file");
}

int ExecLeasePlan(const LeaseExecPlan& plan, std::ostream& err) {
  for (const auto& [key, value] : plan.vars) {
    setenv(key.c_str(), value.c_str(), /*overwrite=*/1);
  }
  const CStringArray argv(plan.argv);
  execvp(argv[0], argv.data());
  const int error = errno;
  err << "lease-exec: cannot run " << plan.argv.front() << ": "
      << std::strerror(error) << std::endl;
  return error == ENOENT ? kExitNotFound : kExitCannotExecute;
}

}  // namespace portlease
