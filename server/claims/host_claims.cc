#include "server/claims/host_claims.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/system/errno_status.h"
#include "common/system/user_names.h"

namespace portlease {
namespace {

std::string Describe(const struct stat& st) {
  return absl::StrFormat("mode %04o, owner %s", st.st_mode & 07777,
                         UserNameOf(st.st_uid));
}

// Creates `dir` with mode 1777: made under a private name, chmod-ed (the
// umask does not apply to chmod), then renamed into place unless someone
// else was first, so no server ever sees it half made.
absl::Status CreateDir(const std::string& dir) {
  const std::string temp = absl::StrCat(dir, ".new.", getpid());
  if (mkdir(temp.c_str(), 0700) != 0) {
    return ErrnoStatus(errno, absl::StrCat("cannot create ", temp));
  }
  if (chmod(temp.c_str(), 01777) != 0) {
    const int error = errno;
    rmdir(temp.c_str());
    return ErrnoStatus(error, absl::StrCat("cannot chmod 1777 ", temp));
  }
  if (renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, dir.c_str(),
                RENAME_NOREPLACE) != 0) {
    const int error = errno;
    rmdir(temp.c_str());
    if (error != EEXIST) {
      return ErrnoStatus(error, absl::StrCat("cannot create ", dir));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckDir(const std::string& dir) {
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) {
    return ErrnoStatus(errno, absl::StrCat("cannot read ", dir));
  }
  if (!S_ISDIR(st.st_mode) || (st.st_mode & 07777) != 01777) {
    return absl::FailedPreconditionError(absl::StrCat(
        "claims directory ", dir, " is ",
        S_ISDIR(st.st_mode)   ? "a directory"
        : S_ISLNK(st.st_mode) ? "a symbolic link"
                              : "not a directory",
        " (", Describe(st),
        "), not a directory of mode 1777 that every user's portleased can "
        "share; remove it, or chmod 1777 it, or pass another --claims-dir"));
  }
  return absl::OkStatus();
}

// Opens DIR/NAME for writing, creating it 0666 when missing (made under a
// private name and linked into place, so nobody opens it before its mode
// is set). Returns the descriptor.
absl::StatusOr<int> OpenClaimsFile(const std::string& dir,
                                   const std::string& name) {
  const std::string path = absl::StrCat(dir, "/", name);
  constexpr int kFlags = O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
  for (int attempt = 0; attempt < 3; ++attempt) {
    int fd = open(path.c_str(), kFlags);
    if (fd < 0 && errno == ENOENT) {
      const std::string temp = absl::StrCat(path, ".new.", getpid());
      int made = open(temp.c_str(), kFlags | O_CREAT | O_EXCL, 0600);
      if (made < 0) return ErrnoStatus(errno, absl::StrCat("cannot create ", temp));
      const bool ready = fchmod(made, 0666) == 0 &&
                         (link(temp.c_str(), path.c_str()) == 0 || errno == EEXIST);
      const int error = errno;
      unlink(temp.c_str());
      close(made);
      if (!ready) return ErrnoStatus(error, absl::StrCat("cannot create ", path));
      continue;  // open what is there now, ours or another server's
    }
    if (fd < 0) {
      const int error = errno;
      struct stat st;
      if (error == EACCES && lstat(path.c_str(), &st) == 0) {
        return absl::FailedPreconditionError(absl::StrCat(
            "cannot open the claims file ", path, " for writing (",
            Describe(st), "); it must be mode 0666 so that every user's "
            "portleased can lock it: remove it (its owner or root), or "
            "chmod 0666 it"));
      }
      if (error == ELOOP) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the claims file ", path, " is a symbolic link; remove it"));
      }
      return ErrnoStatus(error, absl::StrCat("cannot open ", path));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      close(fd);
      return absl::FailedPreconditionError(absl::StrCat(
          "the claims file ", path, " is not a regular file; remove it"));
    }
    return fd;
  }
  return absl::UnavailableError(
      absl::StrCat("cannot create ", path, ": it keeps disappearing"));
}

struct flock Range(short type, Port first, uint32_t count) {
  struct flock lock = {};
  lock.l_type = type;
  lock.l_whence = SEEK_SET;
  lock.l_start = first;
  lock.l_len = count;
  return lock;
}

// Of first..first+count-1, the ports another process locks in `fd`.
std::vector<Port> TakenIn(int fd, Port first, uint32_t count) {
  std::vector<Port> taken;
  for (uint32_t p = first; p < uint32_t{first} + count; ++p) {
    if (ClaimHolderOf(fd, static_cast<Port>(p)).has_value()) {
      taken.push_back(static_cast<Port>(p));
    }
  }
  return taken;
}

// Locks the range in `fd`; else the ports others hold (never empty).
std::vector<Port> LockRange(int fd, Port first, uint32_t count) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    struct flock lock = Range(F_WRLCK, first, count);
    if (fcntl(fd, F_SETLK, &lock) == 0) return {};
    if (errno != EAGAIN && errno != EACCES && errno != EINTR) break;
    std::vector<Port> taken = TakenIn(fd, first, count);
    if (!taken.empty()) return taken;
    // Released between the two calls: try again.
  }
  // Unexpected (ENOLCK) or a holder that keeps coming and going: refuse
  // rather than risk a double grant.
  return {first};
}

}  // namespace

std::optional<ClaimHolder> ClaimHolderOf(int fd, Port port) {
  struct flock lock = Range(F_WRLCK, port, 1);
  if (fcntl(fd, F_GETLK, &lock) != 0 || lock.l_type == F_UNLCK) {
    return std::nullopt;
  }
  ClaimHolder holder;
  holder.pid = lock.l_pid;
  struct stat st;
  if (holder.pid > 0 &&
      stat(absl::StrCat("/proc/", holder.pid).c_str(), &st) == 0) {
    holder.user = UserNameOf(st.st_uid);
  }
  return holder;
}

absl::StatusOr<std::unique_ptr<HostClaims>> HostClaims::Open(
    const std::string& dir) {
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return ErrnoStatus(errno, absl::StrCat("cannot read ", dir));
    absl::Status made = CreateDir(dir);
    if (!made.ok()) return made;
  }
  absl::Status checked = CheckDir(dir);
  if (!checked.ok()) return checked;
  absl::StatusOr<int> tcp = OpenClaimsFile(dir, "tcp");
  if (!tcp.ok()) return tcp.status();
  absl::StatusOr<int> udp = OpenClaimsFile(dir, "udp");
  if (!udp.ok()) {
    close(*tcp);
    return udp.status();
  }
  return std::unique_ptr<HostClaims>(new HostClaims(dir, *tcp, *udp));
}

HostClaims::~HostClaims() {
  // Closing drops every lock this process holds on the files.
  close(tcp_fd_);
  close(udp_fd_);
}

std::vector<Port> HostClaims::Claim(Port first, uint32_t count, bool udp) {
  if (count == 0) return {};
  std::vector<Port> taken = LockRange(tcp_fd_, first, count);
  if (!taken.empty() || !udp) return taken;
  taken = LockRange(udp_fd_, first, count);
  if (!taken.empty()) {
    // All or nothing: the caller claimed none of these before.
    struct flock unlock = Range(F_UNLCK, first, count);
    fcntl(tcp_fd_, F_SETLK, &unlock);
  }
  return taken;
}

void HostClaims::Unclaim(Port first, uint32_t count) {
  if (count == 0) return;
  for (int fd : {tcp_fd_, udp_fd_}) {
    struct flock unlock = Range(F_UNLCK, first, count);
    fcntl(fd, F_SETLK, &unlock);
  }
}

std::optional<ClaimHolder> HostClaims::Holder(Port port) {
  std::optional<ClaimHolder> holder = ClaimHolderOf(tcp_fd_, port);
  if (holder.has_value()) return holder;
  return ClaimHolderOf(udp_fd_, port);
}

}  // namespace portlease
