#include "server/daemon/socket_lock.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/system/files.h"

namespace portlease {

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
  if (absl::StatusOr<std::string> text = ReadFile(lock_path); text.ok()) {
    pid = std::string(absl::StripAsciiWhitespace(*text));
  }
  int64_t pid_number = 0;
  return absl::FailedPreconditionError(absl::StrCat(
      "another portleased is serving unix:", path,
      absl::SimpleAtoi(pid, &pid_number) ? absl::StrCat(" (pid ", pid, ")")
                                         : ""));
}

}  // namespace portlease
