// lease-run: wiring only; see lease_run/lease_run.h.
#include <iostream>
#include <string>
#include <vector>

#include "common/system/lock_graph.h"
#include "common/system/malloc_arena.h"
#include "portlease/version.h"
#include "lease_run/lease_run.h"

int main(int argc, char** argv) {
  portlease::SkipLockGraphInReleaseBuilds();
  portlease::UseOneMallocArena();
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<portlease::LeaseRunOptions> options =
      portlease::ParseLeaseRunArgs(args);
  if (!options.ok()) {
    std::cerr << "lease-run: " << options.status().message() << std::endl;
    return portlease::kExitUsage;
  }
  if (options->help) {
    std::cout << portlease::LeaseRunUsage();
    return 0;
  }
  if (options->version) {
    std::cout << "lease-run " << portlease::kVersion << "\n";
    return 0;
  }
  return portlease::RunLeaseRun(*options, std::cerr);
}
