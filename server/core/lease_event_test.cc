#include "server/core/lease_event.h"

#include <set>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

TEST(LeaseEventTest, EveryTypeHasADistinctName) {
  std::set<std::string> names;
  const int last = static_cast<int>(LeaseEvent::Type::kReattached);
  for (int t = 0; t <= last; ++t) {
    const std::string name =
        LeaseEventName(static_cast<LeaseEvent::Type>(t));
    EXPECT_NE(name, "unknown") << t;
    EXPECT_TRUE(names.insert(name).second) << name;
  }
}

TEST(LeaseEventTest, ThePrivilegeIsRecordedOnlyForAnOverride) {
  LeaseRecord lease;
  lease.id = "0123456789abcdef0123456789abcdef";
  lease.caller = "uid:1000";
  Principal root;
  root.id = "uid:0";
  root.privilege = "root";
  Principal owner;
  owner.id = "uid:1000";

  LeaseEvent override_event = MakeEvent(LeaseEvent::Type::kReleased, &lease,
                                        0, "", &root);
  EXPECT_EQ(override_event.by, "uid:0");
  EXPECT_EQ(override_event.privilege, "root");

  LeaseEvent own = MakeEvent(LeaseEvent::Type::kReleased, &lease, 0, "",
                             &owner);
  EXPECT_EQ(own.by, "uid:1000");
  EXPECT_EQ(own.privilege, "");

  LeaseEvent by_server =
      MakeEvent(LeaseEvent::Type::kExpired, &lease, 0, "", nullptr);
  EXPECT_EQ(by_server.by, "server");
  EXPECT_EQ(by_server.privilege, "");
}

TEST(LeaseEventTest, TheAuditRecordCarriesTheEvent) {
  LeaseRecord lease;
  lease.id = "0123456789abcdef0123456789abcdef";
  lease.base = 30000;
  lease.count = 2;
  lease.owner = {{"job", "7"}};
  const absl::Time at = absl::FromUnixSeconds(1700000000);
  AuditEvent audit = ToAuditEvent(
      MakeEvent(LeaseEvent::Type::kDraining, &lease, 30001, "still bound",
                nullptr),
      at);
  EXPECT_EQ(audit.at, at);
  EXPECT_EQ(audit.type, "draining");
  EXPECT_EQ(audit.lease, lease.IdPrefix());
  EXPECT_EQ(audit.base, 30000);
  EXPECT_EQ(audit.count, 2u);
  EXPECT_EQ(audit.owner, lease.owner);
  EXPECT_EQ(audit.port, 30001);
  EXPECT_EQ(audit.by, "server");
  EXPECT_EQ(audit.detail, "still bound");
}

}  // namespace
}  // namespace portlease
