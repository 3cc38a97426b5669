// Port profiles: which ports a project leases, the environment variable each
// one is exported as, and variables derived from them (see
// client/proto/portlease/v1/profile.proto; ci/m2/ports.json is an example).
#ifndef PORTLEASE_CLIENT_INCLUDE_PORTLEASE_PROFILE_H_
#define PORTLEASE_CLIENT_INCLUDE_PORTLEASE_PROFILE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "portlease/v1/profile.pb.h"

namespace portlease {

// Parses a profile: JSON when the first non-blank character is '{',
// protobuf text format otherwise, then validates it (ValidateProfile).
// INVALID_ARGUMENT, naming `source_name`, on syntax or validation errors;
// a validation error about an entry names the LINE:COLUMN of the entry's
// first occurrence as a quoted string in `content` (a best effort: the JSON
// parser reports no positions), e.g.
//   "ports.json:3:38: port \"redis\": variable PATH is reserved (...)".
absl::StatusOr<v1::Profile> ParseProfile(absl::string_view content,
                                         absl::string_view source_name);

// Reads and parses the file at `path`. NOT_FOUND / PERMISSION_DENIED when it
// cannot be read, otherwise as ParseProfile.
absl::StatusOr<v1::Profile> LoadProfile(const std::string& path);

// Checks: 1..64 ports; names valid (IsValidPortName) and distinct; fills
// empty env names with DefaultPortVariable(name); env names and vars' names
// are valid variable names ([A-Za-z_][A-Za-z0-9_]*), not reserved
// (IsReservedVariableName: PATH, LD_*, PORTLEASE_*, ...) and distinct (a
// var does not shadow a port variable). INVALID_ARGUMENT naming
// `source_name` and the offending entry otherwise.
absl::Status ValidateProfile(v1::Profile& profile,
                             absl::string_view source_name);

// A profile with one port per name and no derived variables (for
// `--ports a,b,c`). INVALID_ARGUMENT for a bad or repeated name.
absl::StatusOr<v1::Profile> ProfileFromNames(
    const std::vector<std::string>& names);

// What to lease, from the command line: exactly one of --ports a,b,c,
// --count N, --profile FILE.
struct PortRequest {
  // Set for --ports and --profile: the names are profile.ports(i).name().
  std::optional<v1::Profile> profile;
  // Set for --count.
  uint32_t count = 0;
};

// INVALID_ARGUMENT unless exactly one of the three is given (empty / 0 mean
// not given), or when the names, count (1..64) or profile are bad.
absl::StatusOr<PortRequest> MakePortRequest(const std::string& ports_csv,
                                            uint32_t count,
                                            const std::string& profile_path);

// True for [a-z][a-z0-9_-]{0,31}, the server's port name rule.
bool IsValidPortName(absl::string_view name);

// "redis" -> "REDIS_PORT", "my-db" -> "MY_DB_PORT".
std::string DefaultPortVariable(absl::string_view name);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_INCLUDE_PORTLEASE_PROFILE_H_
