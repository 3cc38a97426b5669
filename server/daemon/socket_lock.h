// The files portleased sets up before serving: where the directories for
// its socket and database go (made with common/system's MakeDirs), and the
// lock that keeps two servers off one socket path.
#ifndef PORTLEASE_SERVER_DAEMON_SOCKET_LOCK_H_
#define PORTLEASE_SERVER_DAEMON_SOCKET_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/store/lock_file.h"

namespace portlease {

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
