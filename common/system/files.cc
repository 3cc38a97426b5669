#include "common/system/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/system/errno_status.h"

namespace portlease {
namespace {

// Writes all of `data` to `fd`; false with errno set on failure.
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

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  int fd = -1;
  do {
    fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", path));
  absl::Cleanup close_fd = [fd] { close(fd); };
  std::string content;
  char buffer[16384];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, absl::StrCat("read ", path));
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
  }
  return content;
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents, mode_t mode) {
  // Unique among this process's threads and, by the pid, among processes.
  static std::atomic<uint64_t> counter{0};
  const std::string what = absl::StrCat("cannot write ", path);
  const std::string temp =
      absl::StrCat(path, ".tmp.", getpid(), ".", counter.fetch_add(1));
  // One an earlier process of this pid left behind would keep its mode.
  unlink(temp.c_str());
  const int fd =
      open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus(errno, what);
  bool renamed = false;
  absl::Cleanup remove_temp = [&temp, &renamed] {
    if (!renamed) unlink(temp.c_str());
  };
  if (!WriteAll(fd, contents) || fsync(fd) != 0) {
    const int err = errno;
    close(fd);
    return ErrnoStatus(err, what);
  }
  if (close(fd) != 0) return ErrnoStatus(errno, what);
  if (rename(temp.c_str(), path.c_str()) != 0) return ErrnoStatus(errno, what);
  renamed = true;
  return absl::OkStatus();
}

absl::Status AppendToFile(const std::string& path, absl::string_view contents,
                          mode_t mode) {
  const std::string what = absl::StrCat("cannot append to ", path);
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus(errno, what);
  if (!WriteAll(fd, contents)) {
    const int err = errno;
    close(fd);
    return ErrnoStatus(err, what);
  }
  if (close(fd) != 0) return ErrnoStatus(errno, what);
  return absl::OkStatus();
}

absl::Status MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty() || path == "/" || path == ".") return absl::OkStatus();
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat(path, " exists and is not a directory"));
  }
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    absl::Status parent = MakeDirs(path.substr(0, slash), mode);
    if (!parent.ok()) return parent;
  }
  if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, absl::StrCat("cannot create directory ", path));
  }
  return absl::OkStatus();
}

}  // namespace portlease
