// Command-line preparation for portleased, before absl::ParseCommandLine:
// absl exits with status 1 on a bad flag, while portleased promises 2 for
// usage errors, and absl keeps only the last of repeated flags, while
// --listen may be given several times. PrepareArgs checks every flag against
// the registry and joins repeated list flags.
#ifndef PORTLEASE_SERVER_DAEMON_ARGS_H_
#define PORTLEASE_SERVER_DAEMON_ARGS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace portlease {

// Returns `args` (argv, program name first) with every occurrence of each
// flag in `accumulate` merged into one "--name=v1,v2" at the place of the
// first. INVALID_ARGUMENT, with a message naming the argument, for an
// unknown flag, a flag value that does not parse, a missing value, or a
// positional argument. absl's own flags (--help, --version, --flagfile...)
// pass through unchecked. Parses flag values to check them: call it before
// absl::ParseCommandLine, which sets them again.
absl::StatusOr<std::vector<std::string>> PrepareArgs(
    const std::vector<std::string>& args,
    const std::vector<std::string>& accumulate);

// The registered flags defined in files whose path contains `file_part`
// (e.g. "server/"), sorted by name, one entry each, for --help and the man
// page made from it:
//
//     --pool=RANGES
//         Ports to lease: LO-HI[,LO-HI...]. Default: 20000-29999.
//
// The value's name comes from `value_names` (flag name -> e.g. "FILE"),
// else from the flag's type (N, DURATION, LIST, VALUE); booleans read
// "--[no]name". The help text is wrapped at 80 columns. Reads the global
// flag registry, so call it after static initialization; thread-safe.
std::string FormatFlagHelp(
    absl::string_view file_part,
    const std::map<std::string, std::string>& value_names = {});

}  // namespace portlease

#endif  // PORTLEASE_SERVER_DAEMON_ARGS_H_
