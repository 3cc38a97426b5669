// LockFile: an exclusive advisory lock (flock(2)) on a file, so that two
// processes can't own the same database. The holder writes its pid into the
// file so the loser can say who holds it.
//
// The lock belongs to the open file description: it is released when the
// LockFile is destroyed or the process dies (even by kill -9), and a second
// Acquire of the same path conflicts even within one process. The file itself
// is left behind on release; a stale file is harmless.
//
// Thread-compatible.
#ifndef PORTLEASE_SERVER_STORE_LOCK_FILE_H_
#define PORTLEASE_SERVER_STORE_LOCK_FILE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace portlease {

class LockFile {
 public:
  // Creates `path` if needed and locks it without waiting. `what` names the
  // protected resource in messages. Errors:
  //   FAILED_PRECONDITION "<what> is in use by another portleased (pid N)"
  //     when someone else holds the lock (the pid part only if known);
  //   UNAVAILABLE if the file can't be created or locked.
  static absl::StatusOr<std::unique_ptr<LockFile>> Acquire(
      const std::string& path, absl::string_view what);

  ~LockFile();
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;

  const std::string& path() const { return path_; }

 private:
  LockFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  std::string path_;
  int fd_;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_STORE_LOCK_FILE_H_
