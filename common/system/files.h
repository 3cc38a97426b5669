// Whole-file reads, atomic whole-file writes and mkdir -p, with the errors
// of errno_status.h, for client and server alike:
//
//   absl::StatusOr<std::string> text = ReadFile("/proc/net/tcp");
//   absl::Status saved = WriteFileAtomically(path, content, 0600);
//   absl::Status logged = AppendToFile(path, "one more line\n", 0600);
//   absl::Status made = MakeDirs("/run/portlease", 0755);
//
// Stateless functions: thread-safe (concurrent writers of one path each
// leave a whole file; the last rename wins).
#ifndef PORTLEASE_COMMON_SYSTEM_FILES_H_
#define PORTLEASE_COMMON_SYSTEM_FILES_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace portlease {

// The whole content of the file at `path`, read until EOF (so /proc files,
// which report a size of 0, read whole too). Errors: ErrnoStatus of the
// failing call, "open PATH: ..." or "read PATH: ..." (NOT_FOUND when the
// file does not exist, PERMISSION_DENIED when it may not be read).
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Replaces the file at `path` with `contents` so that readers see the old
// file or the new one, never a part: writes a temporary file in the same
// directory, created with permissions `mode` less the process umask (as
// open(2) does), fsyncs it and renames it over `path`. Errors: ErrnoStatus
// "cannot write PATH: ..." (the temporary file is removed).
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents, mode_t mode);

// Appends `contents` to the file at `path`, created with `mode` (less the
// umask) when missing. Errors: ErrnoStatus "cannot append to PATH: ...".
absl::Status AppendToFile(const std::string& path, absl::string_view contents,
                          mode_t mode);

// mkdir -p: creates `path` and its missing parents with `mode`. OK when it
// exists already as a directory (also "", "." and "/"); FAILED_PRECONDITION
// "PATH exists and is not a directory"; else ErrnoStatus "cannot create
// directory DIR: ..." naming the directory that could not be made.
absl::Status MakeDirs(const std::string& path, mode_t mode);

}  // namespace portlease

#endif  // PORTLEASE_COMMON_SYSTEM_FILES_H_
