// lease-exec: wiring only; see lease_exec/lease_exec.h.
#include <iostream>
#include <string>
#include <vector>

#include "common/conventions/exit_codes.h"
#include "portlease/lease_env.h"
#include "lease_exec/lease_exec.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<portlease::LeaseExecOptions> options =
      portlease::ParseLeaseExecArgs(args);
  if (!options.ok()) {
    std::cerr << "lease-exec: " << options.status().message() << std::endl;
    return portlease::kExitUsage;
  }
  if (options->help) {
    std::cout << portlease::LeaseExecUsage();
    return 0;
  }
  absl::StatusOr<portlease::LeaseExecPlan> plan =
      portlease::PlanLeaseExec(*options, portlease::ProcessEnvironment());
  if (!plan.ok()) {
    std::cerr << "lease-exec: " << plan.status().message() << std::endl;
    return plan.status().code() == absl::StatusCode::kInvalidArgument
               ? portlease::kExitUsage
               : 1;
  }
  return portlease::ExecLeasePlan(*plan, std::cerr);
}
