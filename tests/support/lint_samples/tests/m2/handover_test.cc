// A sample the port check must reject (tests/support/CMakeLists.txt runs
// check_test_ports.sh on this folder and expects it to fail): a port from
// a socket that was closed, handed to another process.
#include <vector>

std::vector<int> FreePorts(int n) {
  std::vector<int> ports;
  for (int i = 0; i < n; ++i) ports.push_back(LocalPort(BindZeroAndClose()));
  return ports;
}
