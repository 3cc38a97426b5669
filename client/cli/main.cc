// portlease: wiring only; see cli/cli.h.
#include <iostream>
#include <string>
#include <vector>

#include "common/system/lock_graph.h"
#include "common/system/malloc_arena.h"
#include "portlease/version.h"
#include "cli/cli.h"

int main(int argc, char** argv) {
  portlease::SkipLockGraphInReleaseBuilds();
  portlease::UseOneMallocArena();
  if (argc == 2 && std::string(argv[1]) == "--version") {
    std::cout << "portlease " << portlease::kVersion << "\n";
    return 0;
  }
  return portlease::RunPortleaseCli(std::vector<std::string>(argv + 1, argv + argc),
                                    std::cout, std::cerr);
}
