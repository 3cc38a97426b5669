#include "common/system/user_names.h"

#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

TEST(UserNamesTest, LooksAUidUpOncePerLifetime) {
  std::vector<uid_t> asked;
  UserNames names(absl::Minutes(1), [&asked](uid_t uid) {
    asked.push_back(uid);
    return absl::StrCat("user", uid, "-", asked.size());
  });
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_EQ(names.Get(1000, t0), "user1000-1");
  EXPECT_EQ(names.Get(1000, t0 + absl::Seconds(59)), "user1000-1");
  EXPECT_EQ(names.Get(1001, t0 + absl::Seconds(59)), "user1001-2");
  EXPECT_EQ(asked, (std::vector<uid_t>{1000, 1001}));
  // A renamed user shows under its new name a lifetime later at most.
  EXPECT_EQ(names.Get(1000, t0 + absl::Minutes(1)), "user1000-3");
  EXPECT_EQ(asked, (std::vector<uid_t>{1000, 1001, 1000}));
}

TEST(UserNamesTest, ManyUidsStayBounded) {
  int lookups = 0;
  UserNames names(absl::Hours(1), [&lookups](uid_t uid) {
    ++lookups;
    return absl::StrCat(uid);
  });
  const absl::Time now = absl::FromUnixSeconds(1000);
  for (uid_t uid = 0; uid < 10000; ++uid) {
    ASSERT_EQ(names.Get(uid, now), absl::StrCat(uid));
  }
  EXPECT_EQ(lookups, 10000);
  // The cache started over on the way (it keeps at most 4,096 uids): the
  // last uids are still kept, the first ones are looked up again, and
  // every name stays right.
  EXPECT_EQ(names.Get(9999, now), "9999");
  EXPECT_EQ(lookups, 10000);
  EXPECT_EQ(names.Get(0, now), "0");
  EXPECT_EQ(lookups, 10001);
}

TEST(UserNamesTest, TheDefaultLookupNamesThisProcess) {
  UserNames names;
  const std::string name = names.Get(getuid(), absl::Now());
  EXPECT_FALSE(name.empty());
  // A uid no host has is shown by number.
  EXPECT_EQ(names.Get(4000000000u, absl::Now()), "4000000000");
}

}  // namespace
}  // namespace portlease
