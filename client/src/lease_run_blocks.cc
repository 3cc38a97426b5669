// lease-run --ctest-resource-spec FILE --blocks N: N leases published as a
// CTest resource spec, so that each test gets a block of its own.
#include <cstdio>
#include <fstream>
#include <memory>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "portlease/address.h"
#include "portlease/client.h"
#include "portlease/ctest_resources.h"
#include "portlease/scoped_lease.h"
#include "src/acquire_flow.h"
#include "src/child_process.h"
#include "src/lease_run_modes.h"

namespace portlease {
namespace {

constexpr char kProgram[] = "lease-run";

absl::Status WriteTextFile(const std::string& path, const std::string& text) {
  const std::string temp = absl::StrCat(path, ".tmp");
  {
    std::ofstream out(temp, std::ios::trunc);
    out << text;
    out.close();
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", temp));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

}  // namespace

int RunWithResourceSpec(const LeaseRunOptions& options, std::ostream& err) {
  auto fail = [&err](int code, absl::string_view message) {
    err << kProgram << ": " << message << std::endl;
    return code;
  };
  if (options.command.empty()) {
    return fail(kExitUsage, "missing command after --");
  }
  absl::StatusOr<PortRequest> request =
      MakePortRequest(options.ports, options.count, options.profile);
  if (!request.ok()) return fail(kExitUsage, request.status().message());
  absl::StatusOr<LeaseServer> server =
      ConnectLeaseServer(options.connect_timeout);
  if (!server.ok()) {
    return fail(ConnectErrorExitCode(server.status()),
                absl::StrCat("no server: ", server.status().message()));
  }
  auto loss = std::make_shared<LeaseLossFlag>();
  const LeaseAcquirer acquire = MakeLeaseAcquirer(server->client, loss);

  std::string spec_path = options.ctest_resource_spec;
  if (spec_path.front() != '/') {
    spec_path = absl::StrCat(CurrentDirectoryOrEmpty(), "/", spec_path);
  }
  // Declared before the leases, so files go after the leases are released.
  std::vector<std::string> files;
  absl::Cleanup remove_files = [&files] {
    for (const std::string& file : files) std::remove(file.c_str());
  };
  std::vector<std::unique_ptr<ScopedLease>> leases;
  const v1::Profile* profile =
      request->profile.has_value() ? &*request->profile : nullptr;
  const VariableLookup environment = ProcessEnvironment();
  const std::string checkout_dir = CurrentDirectoryOrEmpty();
  for (uint32_t i = 0; i < options.blocks; ++i) {
    absl::StatusOr<std::unique_ptr<ScopedLease>> lease =
        AcquireWithWait(SpecFromRequest(*request, options.ttl, options.udp),
                        options.wait, err, kProgram, acquire);
    if (!lease.ok()) {
      return fail(
          AcquireErrorExitCode(lease.status(), options.wait),
          absl::StrCat("block ", i, ": ",
                       AcquireErrorMessage(lease.status(), server->where.Describe(),
                                           options.wait)));
    }
    absl::StatusOr<Variables> vars =
        (*lease)->Environment(profile, environment, checkout_dir);
    if (!vars.ok()) return fail(kExitUsage, vars.status().message());
    const std::string file =
        ResourceBlockEnvFile(spec_path, ResourceBlockId(static_cast<int>(i)));
    files.push_back(file);
    absl::Status written = WriteVariablesFile(file, *vars, /*append=*/false);
    if (!written.ok()) return fail(1, written.message());
    leases.push_back(*std::move(lease));
  }
  files.push_back(spec_path);
  absl::Status written = WriteTextFile(
      spec_path, FormatResourceSpec(static_cast<int>(options.blocks)));
  if (!written.ok()) return fail(1, written.message());

  absl::StatusOr<pid_t> child =
      SpawnChild(options.command, {{kResourceSpecVariable, spec_path}});
  if (!child.ok()) {
    return fail(child.status().code() == absl::StatusCode::kNotFound
                    ? kExitNotFound
                    : kExitCannotExecute,
                child.status().message());
  }
  bool reported = false;
  const int wait_status = SuperviseChild(
      *child,
      [&] {
        if (!loss->ever_lost()) return false;
        if (!reported) {
          reported = true;
          err << kProgram << ": " << loss->status().message()
              << "; terminating " << options.command.front() << std::endl;
        }
        return true;
      },
      options.kill_grace);
  leases.clear();
  if (loss->ever_lost()) return kExitTempFail;
  return ExitCodeFromWaitStatus(wait_status);
}

}  // namespace portlease
