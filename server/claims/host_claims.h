// HostClaims: PortClaims shared by every portleased on the host, whatever
// its user: a sticky directory (mode 1777, /tmp/.portlease-claims by
// default) holding one file per protocol ("tcp", "udp", mode 0666), and a
// POSIX fcntl(2) write lock on byte P of a file for each port P this server
// claims. The kernel drops the locks of a process that dies (kill -9
// included), and F_GETLK names the holder's pid.
//
//   absl::StatusOr<std::unique_ptr<HostClaims>> claims =
//       HostClaims::Open("/tmp/.portlease-claims");
//   if (claims.ok()) options.claims = claims->get();
//
// POSIX locks belong to the process: two HostClaims in one process never
// conflict (one server keeps its own grants apart in memory), and closing
// any descriptor of a claims file drops all the process's locks on it. So a
// process opens each file once, here, and nothing else may open it: use one
// HostClaims per process.
//
// Thread-safe.
#ifndef PORTLEASE_SERVER_CLAIMS_HOST_CLAIMS_H_
#define PORTLEASE_SERVER_CLAIMS_HOST_CLAIMS_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/core/port_claims.h"

namespace portlease {

// The default --claims-dir.
inline constexpr char kDefaultClaimsDir[] = "/tmp/.portlease-claims";

class HostClaims : public PortClaims {
 public:
  // Opens the claims directory `dir`, creating it (mode 1777, whatever the
  // umask) and its files (mode 0666) when missing. Errors:
  //   FAILED_PRECONDITION when `dir` is not a directory of mode 1777 (a
  //     symlink, a file, or a directory someone made private), or a claims
  //     file is not a regular file or cannot be opened for writing; the
  //     message names the path, its mode and owner, and the fix;
  //   other codes (from errno) when it cannot be created or read.
  static absl::StatusOr<std::unique_ptr<HostClaims>> Open(
      const std::string& dir);

  ~HostClaims() override;
  HostClaims(const HostClaims&) = delete;
  HostClaims& operator=(const HostClaims&) = delete;

  std::vector<Port> Claim(Port first, uint32_t count, bool udp) override;
  void Unclaim(Port first, uint32_t count) override;
  std::optional<ClaimHolder> Holder(Port port) override;

  const std::string& dir() const { return dir_; }

 private:
  HostClaims(std::string dir, int tcp_fd, int udp_fd)
      : dir_(std::move(dir)), tcp_fd_(tcp_fd), udp_fd_(udp_fd) {}

  const std::string dir_;
  const int tcp_fd_;
  const int udp_fd_;
};

// The pid and user of the process claiming `port` in the claims file open
// at `fd`, if another process does. For tests and HostClaims.
std::optional<ClaimHolder> ClaimHolderOf(int fd, Port port);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CLAIMS_HOST_CLAIMS_H_
