#include "server/daemon/socket_lock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace portlease {

absl::Status MakeDirs(const std::string& dir, mode_t mode) {
  if (dir.empty() || dir == "/" || dir == ".") return absl::OkStatus();
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat(dir, " exists and is not a directory"));
  }
  const size_t slash = dir.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    absl::Status parent = MakeDirs(dir.substr(0, slash), mode);
    if (!parent.ok()) return parent;
  }
  if (mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat("cannot create directory ", dir,
                                               ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

absl::StatusOr<std::unique_ptr<LockFile>> LockSocket(const std::string& path) {
  const std::string lock_path = absl::StrCat(path, ".lock");
  absl::StatusOr<std::unique_ptr<LockFile>> lock =
      LockFile::Acquire(lock_path, absl::StrCat("unix:", path));
  if (lock.ok() ||
      lock.status().code() != absl::StatusCode::kFailedPrecondition) {
    return lock;
  }
  std::string pid;
  if (int fd = open(lock_path.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
    char buffer[32] = {};
    ssize_t n = read(fd, buffer, sizeof(buffer) - 1);
    close(fd);
    if (n > 0) pid = std::string(absl::StripAsciiWhitespace(buffer));
  }
  int64_t pid_number = 0;
  return absl::FailedPreconditionError(absl::StrCat(
      "another portleased is serving unix:", path,
      absl::SimpleAtoi(pid, &pid_number) ? absl::StrCat(" (pid ", pid, ")")
                                         : ""));
}

}  // namespace portlease
