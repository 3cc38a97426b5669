#include "server/core/request_rules.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

LeaseManagerOptions Options() {
  LeaseManagerOptions options;
  options.pool = {{30000, 30099}};
  options.min_ttl = absl::Seconds(2);
  options.default_ttl = absl::Seconds(60);
  options.max_ttl = absl::Hours(1);
  options.max_ports_per_lease = 4;
  options.max_leases_per_owner = 2;
  options.max_ports_per_owner = 5;
  return options;
}

AcquireParams Count(uint32_t count) {
  AcquireParams params;
  params.count = count;
  return params;
}

TEST(RequestRulesTest, ValidateNamesTheBadField) {
  const RequestRules rules(Options());
  EXPECT_TRUE(rules.Validate(Count(1)).ok());
  AcquireParams both = Count(1);
  both.names = {"redis"};
  EXPECT_TRUE(absl::StrContains(rules.Validate(both).message(),
                                "not both"));
  EXPECT_TRUE(absl::StrContains(rules.Validate(Count(0)).message(),
                                "ask for ports"));
  EXPECT_EQ(rules.Validate(Count(5)).message(),
            "asked for 5 ports; one lease holds at most 4");
  AcquireParams twice;
  twice.names = {"redis", "redis"};
  EXPECT_EQ(rules.Validate(twice).message(),
            "port name 'redis' appears twice");
  AcquireParams bad;
  bad.names = {"Redis"};
  EXPECT_TRUE(absl::StrContains(rules.Validate(bad).message(),
                                "bad port name 'Redis'"));
  AcquireParams long_id = Count(1);
  long_id.request_id = std::string(129, 'x');
  EXPECT_EQ(rules.Validate(long_id).message(),
            "request_id is 129 bytes; at most 128");
  AcquireParams peers = Count(1);
  for (int i = 0; i < 40; ++i) peers.owner["peer_" + std::to_string(i)] = "x";
  EXPECT_TRUE(rules.Validate(peers).ok());
}

TEST(RequestRulesTest, OneTtlRangeCheckForGrantsAndRenewals) {
  const RequestRules rules(Options());
  EXPECT_TRUE(rules.CheckTtl(absl::ZeroDuration()).ok());
  EXPECT_TRUE(rules.CheckTtl(absl::Seconds(2)).ok());
  EXPECT_TRUE(rules.CheckTtl(absl::Hours(1)).ok());
  for (absl::Duration bad :
       {absl::Seconds(-1), absl::Seconds(1), absl::Hours(2)}) {
    absl::Status status = rules.CheckTtl(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(status));
    EXPECT_TRUE(absl::StrContains(status.message(), "is out of range"));
    EXPECT_TRUE(absl::StrContains(status.message(), "(this server's limits)"));
  }
  AcquireParams params = Count(1);
  params.ttl = absl::Hours(2);
  EXPECT_EQ(rules.Validate(params), rules.CheckTtl(absl::Hours(2)));
}

TEST(RequestRulesTest, RenewAndReattachShareTheClamp) {
  const RequestRules rules(Options());
  EXPECT_EQ(rules.GrantTtl(absl::ZeroDuration()), absl::Seconds(60));
  EXPECT_EQ(rules.GrantTtl(absl::Seconds(5)), absl::Seconds(5));
  EXPECT_EQ(rules.ClampTtl(absl::Seconds(1)), absl::Seconds(2));
  EXPECT_EQ(rules.ClampTtl(absl::Hours(5)), absl::Hours(1));
  EXPECT_EQ(rules.ClampTtl(absl::Seconds(30)), absl::Seconds(30));
  EXPECT_EQ(rules.ClampTtl(rules.GrantTtl(absl::ZeroDuration())),
            absl::Seconds(60));
}

TEST(RequestRulesTest, CheckFitsPoolNamesTheFlag) {
  const RequestRules rules(Options());
  EXPECT_TRUE(rules.CheckFitsPool(Count(3), 3).ok());
  absl::Status status = rules.CheckFitsPool(Count(4), 3);
  EXPECT_EQ(status.message(),
            "asked for 4 ports but the whole pool has 3; no wait can grant "
            "that: ask for fewer, or widen the server's pool");
}

TEST(RequestRulesTest, OwnerShareLimits) {
  const RequestRules rules(Options());
  EXPECT_TRUE(rules.LimitsOwners());
  EXPECT_TRUE(rules.CheckOwnerShare("uid:1", OwnerShare{1, 2}, 3).ok());
  absl::Status leases = rules.CheckOwnerShare("uid:1", OwnerShare{2, 2}, 1);
  EXPECT_TRUE(absl::IsResourceExhausted(leases));
  EXPECT_TRUE(
      absl::StrContains(leases.message(), "the most one caller may hold on "
                                          "this server (2)"));
  absl::Status ports = rules.CheckOwnerShare("uid:1", OwnerShare{1, 3}, 3);
  EXPECT_TRUE(absl::IsResourceExhausted(ports));
  EXPECT_EQ(ports.message(),
            "caller uid:1 holds 3 ports in live leases and asks for 3; one "
            "caller may hold at most 5 ports on this server; release "
            "leases or ask for fewer ports");
  LeaseManagerOptions unlimited = Options();
  unlimited.max_leases_per_owner = 0;
  unlimited.max_ports_per_owner = 0;
  const RequestRules none(unlimited);
  EXPECT_FALSE(none.LimitsOwners());
  EXPECT_TRUE(none.CheckOwnerShare("uid:1", OwnerShare{900, 900}, 64).ok());
}

TEST(RequestRulesTest, SameRequestComparesTheShape) {
  AcquireParams params;
  params.names = {"a", "b"};
  LeaseRecord lease;
  lease.names = {"a", "b"};
  lease.count = 2;
  EXPECT_TRUE(SameRequest(lease, params));
  params.udp = true;
  EXPECT_FALSE(SameRequest(lease, params));
  LeaseRecord counted;
  counted.count = 3;
  EXPECT_TRUE(SameRequest(counted, Count(3)));
  EXPECT_FALSE(SameRequest(counted, Count(2)));
}

TEST(RequestRulesTest, NamesIdsAndPorts) {
  EXPECT_TRUE(ValidPortName("redis_1-a"));
  EXPECT_FALSE(ValidPortName(""));
  EXPECT_FALSE(ValidPortName("1redis"));
  EXPECT_FALSE(ValidPortName(std::string(33, 'a')));
  EXPECT_TRUE(IsLeaseId("0123456789abcdef0123456789abcdef"));
  EXPECT_FALSE(IsLeaseId("0123456789ABCDEF0123456789abcdef"));
  EXPECT_FALSE(IsLeaseId("0123456789abcdef"));
  LeaseRecord record;
  record.base = 65535;
  record.count = 1;
  EXPECT_FALSE(PortsMalformed(record));
  record.count = 2;
  EXPECT_TRUE(PortsMalformed(record));
  record.base = 0;
  record.count = 1;
  EXPECT_TRUE(PortsMalformed(record));
  record.base = 30000;
  record.count = 0;
  EXPECT_TRUE(PortsMalformed(record));
}

TEST(RequestRulesTest, AuthorizeAllowsTheCallerAndPrivilege) {
  LeaseRecord lease;
  lease.id = "0123456789abcdef0123456789abcdef";
  lease.caller = "uid:1000";
  Principal owner;
  owner.id = "uid:1000";
  Principal other;
  other.id = "uid:1001";
  Principal admin;
  admin.id = "admin";
  admin.privilege = "admin-token";
  EXPECT_TRUE(Authorize(lease, owner, "renew").ok());
  EXPECT_TRUE(Authorize(lease, admin, "renew").ok());
  absl::Status denied = Authorize(lease, other, "renew");
  EXPECT_TRUE(absl::IsPermissionDenied(denied));
  EXPECT_TRUE(absl::StrContains(denied.message(), "uid:1001 may not renew"));
  lease.caller.clear();
  Principal nobody;
  EXPECT_TRUE(absl::IsPermissionDenied(Authorize(lease, nobody, "get")));
}

TEST(RequestRulesTest, NotFoundMessages) {
  const std::string id = "0123456789abcdef0123456789abcdef";
  EXPECT_EQ(LeaseNotFound(id),
            absl::NotFoundError("lease 01234567... not found: it was "
                                "released, expired, reclaimed or never "
                                "existed"));
  EXPECT_EQ(LeaseEndedNotFound(id, "why"),
            absl::NotFoundError("lease 01234567... ended: why"));
  EXPECT_EQ(NotReattached(id, "why"),
            absl::NotFoundError("lease 01234567... is not known to this "
                                "server and was not re-attached: why"));
}

}  // namespace
}  // namespace portlease
