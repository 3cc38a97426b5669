// The client's one atomic file write: every file the client side replaces
// (env files, --render outputs, CTest resource specs) goes through
// AtomicallyReplaceFile, so there is one place that gets the temporary file,
// its mode, fsync and rename right.
//
// It is not common/system's WriteFileAtomically because portlease_lease_env,
// which writes env files, is installed for consumers and portlease_system
// is not part of the installed package. Until it is, this is the one place
// on the client side: change it here, do not write another.
#ifndef PORTLEASE_CLIENT_ENV_ATOMIC_FILE_H_
#define PORTLEASE_CLIENT_ENV_ATOMIC_FILE_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace portlease {

// Replaces the file at `path` by one holding `content`: written to
// "<path>.tmp.<pid>" (created afresh with `mode`, less the umask), flushed
// to disk, then renamed over `path`, so that a reader sees the old file or
// the new one, never a part. INTERNAL "cannot write <path>: <reason>" on
// failure; the temporary file is removed.
absl::Status AtomicallyReplaceFile(const std::string& path,
                                   absl::string_view content, mode_t mode);

// Writes all of `data` to `fd`, retrying after EINTR and short writes.
// False with errno set on failure.
bool WriteAll(int fd, absl::string_view data);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_ENV_ATOMIC_FILE_H_
