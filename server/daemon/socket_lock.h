// The files portleased sets up before serving: directories for its socket
// and database, and the lock that keeps two servers off one socket path.
#ifndef PORTLEASE_SERVER_DAEMON_SOCKET_LOCK_H_
#define PORTLEASE_SERVER_DAEMON_SOCKET_LOCK_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/store/lock_file.h"

namespace portlease {

// mkdir -p: creates `dir` and its missing parents with `mode`. OK when it
// exists already; FAILED_PRECONDITION when it exists and is not a
// directory; UNAVAILABLE (with errno's text) when it cannot be created.
absl::Status MakeDirs(const std::string& dir, mode_t mode);

// The directory part of `path`: "." for a bare name, "/" for "/x".
std::string DirOf(const std::string& path);

// Takes `<socket_path>.lock` so that two servers never share a socket path
// (gRPC replaces an existing socket file). FAILED_PRECONDITION "another
// portleased is serving unix:PATH (pid N)" when another process holds it;
// UNAVAILABLE when the lock file can't be created.
absl::StatusOr<std::unique_ptr<LockFile>> LockSocket(
    const std::string& socket_path);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_DAEMON_SOCKET_LOCK_H_
