#include "server/core/lease_table.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using Entry = LeaseTable::Entry;

absl::Duration Secs(int s) { return absl::Seconds(s); }

Entry Live(std::string id, Port base, uint32_t count, int expires_s,
           std::string caller = "uid:1000", std::string request_id = "") {
  Entry entry;
  entry.record.id = std::move(id);
  entry.record.base = base;
  entry.record.count = count;
  entry.record.caller = std::move(caller);
  entry.record.request_id = std::move(request_id);
  entry.record.state = LeaseState::kLive;
  entry.deadline = Secs(expires_s);
  return entry;
}

std::vector<Port> Bases(const LeaseTable& table, Port from = 0) {
  std::vector<Port> bases;
  table.ForEachFrom(from, [&](const LeaseRecord& r) {
    bases.push_back(r.base);
    return true;
  });
  return bases;
}

TEST(LeaseTableTest, FindsByIdPortAndRequest) {
  LeaseTable table(/*count_owners=*/true);
  table.Insert(Live("aaaa1111", 100, 3, 10, "uid:1", "req-1"));
  table.Insert(Live("bbbb2222", 200, 1, 10, "uid:2"));
  ASSERT_NE(table.Find("aaaa1111"), nullptr);
  EXPECT_EQ(table.Find("nope"), nullptr);
  EXPECT_EQ(table.FindByPort(102)->record.id, "aaaa1111");
  EXPECT_EQ(table.FindByPort(103), nullptr);
  EXPECT_EQ(table.FindByPort(99), nullptr);
  EXPECT_EQ(table.FindByPort(200)->record.id, "bbbb2222");
  EXPECT_EQ(table.FindByRequest("uid:1", "req-1")->record.id, "aaaa1111");
  // Request ids are the caller's own.
  EXPECT_EQ(table.FindByRequest("uid:2", "req-1"), nullptr);
  EXPECT_EQ(table.live(), 2u);
  EXPECT_EQ(table.draining(), 0u);
}

TEST(LeaseTableTest, ListsByBasePortFromAStart) {
  LeaseTable table(false);
  table.Insert(Live("c", 300, 1, 10));
  table.Insert(Live("a", 100, 1, 10));
  table.Insert(Live("b", 200, 1, 10));
  EXPECT_THAT(Bases(table), ElementsAre(100, 200, 300));
  EXPECT_THAT(Bases(table, 150), ElementsAre(200, 300));
  std::vector<Port> first;
  table.ForEachFrom(0, [&](const LeaseRecord& r) {
    first.push_back(r.base);
    return false;
  });
  EXPECT_THAT(first, ElementsAre(100));
}

TEST(LeaseTableTest, PrefixMatchesLiveLeasesOnly) {
  LeaseTable table(false);
  table.Insert(Live("abcd0001", 100, 1, 10));
  table.Insert(Live("abcd0002", 200, 1, 10));
  table.Insert(Live("ffff0003", 300, 1, 10));
  table.MakeDraining(table.Find("abcd0002"), Secs(1));
  EXPECT_THAT(table.LiveIdsWithPrefix("abcd"), ElementsAre("abcd0001"));
  table.BeginEnding(table.Find("abcd0001"));
  EXPECT_THAT(table.LiveIdsWithPrefix("abcd"), IsEmpty());
}

TEST(LeaseTableTest, ExpiryFollowsRenewals) {
  LeaseTable table(false);
  table.Insert(Live("a", 100, 1, 10));
  table.Insert(Live("b", 200, 1, 20));
  EXPECT_EQ(table.FirstExpired(Secs(9)), std::nullopt);
  EXPECT_EQ(table.FirstExpired(Secs(10)), "a");
  table.SetDeadline(table.Find("a"), Secs(30));
  EXPECT_EQ(table.FirstExpired(Secs(25)), "b");
  EXPECT_EQ(table.NextDue(), Secs(20));
  table.Erase("b");
  EXPECT_EQ(table.NextDue(), Secs(30));
  table.Erase("a");
  EXPECT_EQ(table.NextDue(), absl::InfiniteDuration());
}

TEST(LeaseTableTest, GraceStartsWhenTheLastHolderLeaves) {
  LeaseTable table(false);
  table.Insert(Live("a", 100, 1, 100));
  Entry* a = table.Find("a");
  table.SetGrace(a, Secs(5));
  EXPECT_EQ(table.FirstGraceOver(Secs(5)), "a");
  table.SetGrace(a, absl::InfiniteDuration());  // a holder attached
  EXPECT_EQ(table.FirstGraceOver(Secs(50)), std::nullopt);
  EXPECT_EQ(table.NextDue(), Secs(100));
}

TEST(LeaseTableTest, AnEndingLeaseIsHiddenUntilItsCommitFails) {
  LeaseTable table(false);
  table.Insert(Live("a", 100, 1, 10));
  Entry* a = table.Find("a");
  table.SetGrace(a, Secs(5));
  table.BeginEnding(a);
  EXPECT_EQ(table.FindLive("a"), nullptr);
  EXPECT_EQ(table.FindLive("a", /*include_ending=*/true), a);
  EXPECT_EQ(table.FirstExpired(Secs(60)), std::nullopt);
  EXPECT_EQ(table.FirstGraceOver(Secs(60)), std::nullopt);
  // A holder leaving meanwhile does not put it back in the grace index.
  table.SetGrace(a, Secs(6));
  EXPECT_EQ(table.FirstGraceOver(Secs(60)), std::nullopt);
  table.FinishEnding(a, /*ended=*/false);
  EXPECT_EQ(table.FindLive("a"), a);
  EXPECT_EQ(table.FirstGraceOver(Secs(6)), "a");
  EXPECT_EQ(table.FirstExpired(Secs(10)), "a");
}

TEST(LeaseTableTest, DrainingLeasesAreProbedWhenDue) {
  LeaseTable table(false);
  table.Insert(Live("a", 100, 1, 10, "uid:1", "req"));
  Entry* a = table.Find("a");
  a->holders = 2;
  table.MakeDraining(a, Secs(3));
  EXPECT_EQ(a->record.state, LeaseState::kDraining);
  EXPECT_EQ(a->holders, 0);
  EXPECT_EQ(table.live(), 0u);
  EXPECT_EQ(table.draining(), 1u);
  EXPECT_EQ(table.FindLive("a"), nullptr);
  EXPECT_EQ(table.FindByRequest("uid:1", "req"), nullptr);
  EXPECT_EQ(table.FindByPort(100), a);  // its ports are still its own
  EXPECT_EQ(table.FirstExpired(Secs(60)), std::nullopt);
  EXPECT_THAT(table.DrainsDue(Secs(2)), IsEmpty());
  EXPECT_THAT(table.DrainsDue(Secs(3)), ElementsAre("a"));
  table.SetNextProbe(a, Secs(8));
  EXPECT_THAT(table.DrainsDue(Secs(7)), IsEmpty());
  EXPECT_EQ(table.NextDue(), Secs(8));
  LeaseRecord ended = table.Erase("a");
  EXPECT_EQ(ended.id, "a");
  EXPECT_EQ(table.draining(), 0u);
  EXPECT_EQ(table.FindByPort(100), nullptr);
}

TEST(LeaseTableTest, InsertIndexesADrainingLeaseForItsProbe) {
  LeaseTable table(false);
  Entry entry = Live("a", 100, 2, 0);
  entry.record.state = LeaseState::kDraining;
  entry.next_probe = Secs(4);
  table.Insert(std::move(entry));
  EXPECT_EQ(table.live(), 0u);
  EXPECT_THAT(table.DrainsDue(Secs(4)), ElementsAre("a"));
  EXPECT_EQ(table.FirstExpired(Secs(60)), std::nullopt);
}

TEST(LeaseTableTest, SharesCountLeasesAndPortsPerCaller) {
  LeaseTable table(/*count_owners=*/true);
  LeaseRecord a = Live("a", 100, 3, 10, "uid:1").record;
  LeaseRecord b = Live("b", 200, 2, 10, "uid:1").record;
  table.CountOwner(a, +1);
  table.CountOwner(b, +1);
  EXPECT_EQ(table.Share("uid:1").leases, 2u);
  EXPECT_EQ(table.Share("uid:1").ports, 5u);
  EXPECT_EQ(table.Share("uid:2").leases, 0u);
  table.CountOwner(a, -1);
  EXPECT_EQ(table.Share("uid:1").ports, 2u);
  table.CountOwner(b, -1);
  EXPECT_EQ(table.Share("uid:1").leases, 0u);
  table.CountOwner(b, -1);  // nothing left to give back
  EXPECT_EQ(table.Share("uid:1").ports, 0u);
}

TEST(LeaseTableTest, SharesAreNotCountedWhenNoLimitApplies) {
  LeaseTable table(/*count_owners=*/false);
  table.CountOwner(Live("a", 100, 3, 10, "uid:1").record, +1);
  EXPECT_EQ(table.Share("uid:1").leases, 0u);
}

TEST(LeaseTableTest, ARetryKeyBelongsToTheLeaseThatHoldsIt) {
  LeaseTable table(false);
  table.Insert(Live("a", 100, 1, 10, "uid:1", "req"));
  table.Insert(Live("b", 200, 1, 10, "uid:1", "req"));  // took the key over
  table.Erase("a");
  ASSERT_NE(table.FindByRequest("uid:1", "req"), nullptr);
  EXPECT_EQ(table.FindByRequest("uid:1", "req")->record.id, "b");
}

}  // namespace
}  // namespace portlease
