#include "server/store/lock_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace portlease {
namespace {

// The pid recorded in the lock file, or 0 if it can't be read.
long ReadHolderPid(int fd) {
  char buf[32] = {};
  ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return 0;
  long pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::string_view(buf, n)),
                        &pid)) {
    return 0;
  }
  return pid;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LockFile>> LockFile::Acquire(
    const std::string& path, absl::string_view what) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat(
        "can't open lock file ", path, ": ", std::strerror(errno)));
  }
  int rc;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int err = errno;
    if (err == EWOULDBLOCK) {
      long pid = ReadHolderPid(fd);
      close(fd);
      std::string holder = pid > 0 ? absl::StrCat(" (pid ", pid, ")") : "";
      return absl::FailedPreconditionError(
          absl::StrCat(what, " is in use by another portleased", holder,
                       "; lock file ", path));
    }
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("can't lock ", path, ": ", std::strerror(err)));
  }
  // Best effort: the pid only improves the message another process prints.
  std::string pid = absl::StrCat(getpid(), "\n");
  if (ftruncate(fd, 0) == 0) {
    ssize_t ignored = pwrite(fd, pid.data(), pid.size(), 0);
    (void)ignored;
  }
  return std::unique_ptr<LockFile>(new LockFile(path, fd));
}

LockFile::~LockFile() {
  // Closing the descriptor releases the flock.
  close(fd_);
}

}  // namespace portlease
