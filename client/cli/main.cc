// portlease: wiring only; see src/cli/cli.h.
#include <iostream>
#include <string>
#include <vector>

#include "src/cli/cli.h"

int main(int argc, char** argv) {
  return portlease::RunPortleaseCli(std::vector<std::string>(argv + 1, argv + argc),
                                    std::cout, std::cerr);
}
