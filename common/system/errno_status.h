// One mapping from errno to absl::Status, for every OS call of client and
// server:
//
//   if (mkdir(dir.c_str(), 0755) != 0) {
//     return ErrnoStatus(errno, absl::StrCat("cannot create directory ", dir));
//   }
//   // -> PERMISSION_DENIED "cannot create directory /run/x: Permission denied"
//
// Stateless: thread-safe.
#ifndef PORTLEASE_COMMON_SYSTEM_ERRNO_STATUS_H_
#define PORTLEASE_COMMON_SYSTEM_ERRNO_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace portlease {

// The status code of `err`:
//   ENOENT                    NOT_FOUND
//   EACCES, EPERM             PERMISSION_DENIED
//   EEXIST                    ALREADY_EXISTS
//   ENOSPC, EMFILE, ENFILE,
//   ENOMEM                    RESOURCE_EXHAUSTED
//   EINTR, EAGAIN             UNAVAILABLE
//   EINVAL                    INVALID_ARGUMENT
//   anything else             INTERNAL
// (ENOMEM with the descriptors: the prober reports them all as the
// server's own shortage, never as a busy port.)
absl::StatusCode ErrnoCode(int err);

// A status with ErrnoCode(err) and the message "WHAT: strerror(err)".
// `err` must not be 0.
absl::Status ErrnoStatus(int err, absl::string_view what);

}  // namespace portlease

#endif  // PORTLEASE_COMMON_SYSTEM_ERRNO_STATUS_H_
