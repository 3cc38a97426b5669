#include "common/system/user_names.h"

#include <pwd.h>

#include <cerrno>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace portlease {

std::string UserNameOf(uid_t uid) {
  std::vector<char> buffer(16384);
  // Bounded: an entry larger than 1 MiB falls back to the number.
  while (buffer.size() <= (size_t{1} << 20)) {
    struct passwd entry;
    struct passwd* found = nullptr;
    const int rc =
        getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found);
    if (rc == 0 && found != nullptr) return found->pw_name;
    if (rc != ERANGE) break;
    buffer.resize(buffer.size() * 2);
  }
  return absl::StrCat(uid);
}

UserNames::UserNames(absl::Duration lifetime, Lookup lookup)
    : lifetime_(lifetime),
      lookup_(lookup ? std::move(lookup) : Lookup(UserNameOf)) {}

std::string UserNames::Get(uid_t uid, absl::Time now) {
  auto it = entries_.find(uid);
  if (it != entries_.end() && now - it->second.looked_up < lifetime_) {
    return it->second.name;
  }
  if (it == entries_.end() && entries_.size() >= kMaxEntries) {
    entries_.clear();
  }
  Entry& entry = entries_[uid];
  entry.name = lookup_(uid);
  entry.looked_up = now;
  return entry.name;
}

}  // namespace portlease
