#include "common/system/user_names.h"

#include <pwd.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace portlease {

std::string UserNameOf(uid_t uid) {
  struct passwd entry;
  struct passwd* found = nullptr;
  char buffer[4096];
  if (getpwuid_r(uid, &entry, buffer, sizeof(buffer), &found) == 0 &&
      found != nullptr) {
    return found->pw_name;
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
