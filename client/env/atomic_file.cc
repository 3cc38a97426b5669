#include "env/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace portlease {

bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// The client side's one atomic write (see atomic_file.h for why it is not
// common/system's yet).
absl::Status AtomicallyReplaceFile(const std::string& path,
                                   absl::string_view content,
                                   mode_t mode) {
  const std::string temp = absl::StrCat(path, ".tmp.", getpid());
  auto fail = [&](int error) {
    unlink(temp.c_str());
    return absl::InternalError(
        absl::StrCat("cannot write ", path, ": ", std::strerror(error)));
  };
  // A temporary file an earlier process of this pid left behind would keep
  // its mode: start afresh.
  unlink(temp.c_str());
  const int fd = open(temp.c_str(),
                      O_WRONLY | O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    // The temporary file could not be created: report the path asked for.
    return absl::InternalError(
        absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  if (!WriteAll(fd, content) || fsync(fd) != 0) {
    const int error = errno;
    close(fd);
    return fail(error);
  }
  if (close(fd) != 0) return fail(errno);
  if (std::rename(temp.c_str(), path.c_str()) != 0) return fail(errno);
  return absl::OkStatus();
}

}  // namespace portlease
