// lease-run --ctest-resource-spec FILE --blocks N: N leases published as a
// CTest resource spec, so that each test gets a block of its own.
#include <cstdio>
#include <memory>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "portlease/ctest_resources.h"
#include "portlease/scoped_lease.h"
#include "common/system/files.h"
#include "lease_run/lease_run_modes.h"
#include "lease_run/lease_session.h"

namespace portlease {
namespace {

constexpr char kProgram[] = "lease-run";

// Any lease lost stops the command (with one line on `err`).
class AnyLossStops {
 public:
  AnyLossStops(const LeaseLossFlag& loss, const std::string& command,
               std::ostream& err)
      : loss_(loss), command_(command), err_(err) {}

  bool operator()() {
    if (!loss_.ever_lost()) return false;
    if (!reported_) {
      reported_ = true;
      err_ << kProgram << ": " << loss_.status().message() << "; terminating "
           << command_ << std::endl;
    }
    return true;
  }

 private:
  const LeaseLossFlag& loss_;
  const std::string& command_;
  std::ostream& err_;
  bool reported_ = false;
};

}  // namespace

int RunWithResourceSpec(const LeaseRunOptions& options, std::ostream& err) {
  LeaseSession session(options, err);
  auto loss = std::make_shared<LeaseLossFlag>();
  if (std::optional<Failure> failed = session.OpenForCommand(loss)) {
    return ReportFailure(*failed, err);
  }
  const std::string spec_path = AbsolutePath(options.ctest_resource_spec);
  // Declared before the leases, so files go after the leases are released.
  std::vector<std::string> files;
  absl::Cleanup remove_files = [&files] {
    for (const std::string& file : files) std::remove(file.c_str());
  };
  std::vector<std::unique_ptr<ScopedLease>> leases;
  for (uint32_t i = 0; i < options.blocks; ++i) {
    absl::StatusOr<std::unique_ptr<ScopedLease>> lease =
        session.Acquire(session.NewSpec());
    if (!lease.ok()) {
      Failure failed = session.AcquireFailure(lease.status());
      failed.message = absl::StrCat("block ", i, ": ", failed.message);
      return ReportFailure(failed, err);
    }
    const std::string file =
        ResourceBlockEnvFile(spec_path, ResourceBlockId(static_cast<int>(i)));
    files.push_back(file);
    Variables vars;
    if (std::optional<Failure> failed =
            session.Publish(**lease, file, {}, &vars)) {
      return ReportFailure(*failed, err);
    }
    leases.push_back(*std::move(lease));
  }
  files.push_back(spec_path);
  absl::Status written = WriteFileAtomically(
      spec_path, FormatResourceSpec(static_cast<int>(options.blocks)), 0666);
  if (!written.ok()) {
    return ReportFailure({1, std::string(written.message())}, err);
  }

  const int code = RunUnderLease(
      options.command, {{kResourceSpecVariable, spec_path}}, options.kill_grace,
      AnyLossStops(*loss, options.command.front(), err), err);
  leases.clear();
  if (loss->ever_lost()) return kExitTempFail;
  return code;
}

}  // namespace portlease
