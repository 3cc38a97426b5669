// User names by uid. getpwuid_r reads nsswitch.conf and /etc/passwd (or
// asks systemd's user database) at every call; UserNames keeps each answer
// for a while, for a thread that names every connection it accepts.
//
//   UserNames names;  // one thread's
//   std::string who = names.Get(peer_uid, absl::Now());
#ifndef PORTLEASE_COMMON_SYSTEM_USER_NAMES_H_
#define PORTLEASE_COMMON_SYSTEM_USER_NAMES_H_

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"

namespace portlease {

// The user name of `uid`, or its number when the host has none.
std::string UserNameOf(uid_t uid);

// UserNameOf, looked up once per uid and `lifetime` (a renamed user shows
// under the new name a lifetime later at most). Not thread-safe.
class UserNames {
 public:
  using Lookup = std::function<std::string(uid_t)>;
  // `lookup` defaults to UserNameOf (tests count its calls).
  explicit UserNames(absl::Duration lifetime = absl::Minutes(1),
                     Lookup lookup = nullptr);
  std::string Get(uid_t uid, absl::Time now);

 private:
  // More than a host has users; past it the cache starts again.
  static constexpr size_t kMaxEntries = 4096;
  struct Entry {
    std::string name;
    absl::Time looked_up;
  };
  const absl::Duration lifetime_;
  const Lookup lookup_;
  absl::flat_hash_map<uid_t, Entry> entries_;
};

}  // namespace portlease

#endif  // PORTLEASE_COMMON_SYSTEM_USER_NAMES_H_
