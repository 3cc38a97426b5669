// The `portlease` command line tool:
//
//   portlease acquire --ports redis,worker --ttl 300s --format=shell
//   portlease release LEASE_ID
//   portlease renew LEASE_ID [--ttl D]
//   portlease list | status
//   portlease who PORT...
//   portlease preflight [--ports 6379,7001 | --profile FILE]
//   portlease admin force-release|drain|undrain|set-pool ...
//
// The binary's main() only calls RunPortleaseCli.
#ifndef PORTLEASE_CLIENT_CLI_CLI_H_
#define PORTLEASE_CLIENT_CLI_CLI_H_

#include <ostream>
#include <string>
#include <vector>

namespace portlease {

// Runs the command in `args` (without the program name), printing results
// to `out` and one-line "portlease: ..." errors to `err`. Returns the exit
// code: 0 success; 1 preflight found busy ports, or an operation failed;
// 2 usage; 69 server unreachable; 75 pool exhausted; 77 admin token
// missing or refused.
int RunPortleaseCli(const std::vector<std::string>& args, std::ostream& out,
                    std::ostream& err);

// The --help text.
const char* PortleaseCliUsage();

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_CLI_CLI_H_
