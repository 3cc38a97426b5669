// Reading small kernel-generated files (/proc) whole, for the host layer
// and server/probe: /proc files report a size of 0, so they are read until EOF.
#ifndef PORTLEASE_COMMON_HOST_PROC_FILE_H_
#define PORTLEASE_COMMON_HOST_PROC_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace portlease {

// Returns the whole content of the file at `path`. NOT_FOUND when it does not
// exist, PERMISSION_DENIED when it cannot be read, other codes mapped from
// errno. Thread-safe.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

}  // namespace portlease

#endif  // PORTLEASE_COMMON_HOST_PROC_FILE_H_
