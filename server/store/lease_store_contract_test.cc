// The LeaseStore contract, run against every implementation so that they
// can't drift apart. For the SQLite store, "reopen" closes the database and
// opens the same file again, as a restarted server would.
#include <functional>
#include <ostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/lease.h"
#include "server/core/lease_store.h"
#include "server/store/memory_lease_store.h"
#include "server/store/sqlite_lease_store.h"
#include "server/store/test_leases.h"
#include "testing/temp_dir.h"

namespace portlease {
namespace {

using ::testing::IsEmpty;

// Owns one store under test.
class StoreHarness {
 public:
  virtual ~StoreHarness() = default;
  virtual LeaseStore& store() = 0;
  // Makes the store forget everything but what it persisted.
  virtual void Reopen() = 0;
};

class MemoryHarness : public StoreHarness {
 public:
  LeaseStore& store() override { return store_; }
  // Memory is all there is: nothing to reopen.
  void Reopen() override {}

 private:
  MemoryLeaseStore store_;
};

class SqliteHarness : public StoreHarness {
 public:
  explicit SqliteHarness(SqliteOptions options) : options_(options) {
    Reopen();
  }
  LeaseStore& store() override { return *store_; }
  void Reopen() override {
    store_.reset();  // Close first: the database is locked while open.
    absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
        SqliteLeaseStore::Open(dir_.File("leases.db"), options_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

 private:
  testing::TempDir dir_;
  SqliteOptions options_;
  std::unique_ptr<SqliteLeaseStore> store_;
};

struct StoreKind {
  std::string name;
  std::function<std::unique_ptr<StoreHarness>()> make;
};
void PrintTo(const StoreKind& kind, std::ostream* os) { *os << kind.name; }

class LeaseStoreContractTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override { harness_ = GetParam().make(); }

  LeaseStore& store() { return harness_->store(); }
  void Reopen() { harness_->Reopen(); }
  std::vector<LeaseRecord> Load() {
    absl::StatusOr<std::vector<LeaseRecord>> all = store().LoadAll();
    EXPECT_TRUE(all.ok()) << all.status();
    return all.ok() ? SortedById(*std::move(all)) : std::vector<LeaseRecord>{};
  }

  std::unique_ptr<StoreHarness> harness_;
};

TEST_P(LeaseStoreContractTest, NewStoreIsEmpty) {
  EXPECT_THAT(Load(), IsEmpty());
  Reopen();
  EXPECT_THAT(Load(), IsEmpty());
}

TEST_P(LeaseStoreContractTest, RoundTripsEveryField) {
  LeaseRecord lease;
  lease.id = "0123456789abcdef0123456789abcdef";
  lease.names = {"redis", "wörker-σ", "", "with space", "tab\tnew\nline"};
  lease.base = 65531;
  lease.count = 5;
  lease.udp = true;
  lease.owner = {
      {"user", "zoë"},
      {"command", "make -j8 test\n--flag=\"quoted\"\r\n"},
      {std::string("nul\0key", 7), std::string("a\0b\0\0c", 6)},
      {"", "empty key"},
      {"empty value", ""},
      {"emoji", "\xF0\x9F\x9A\x80"},
      {"invalid utf8", "\xff\xfe\x80"},
  };
  lease.request_id = std::string("req\0\n\xff", 6);
  lease.caller = std::string("x509:zo\xc3\xab\0cn", 12);
  lease.created_at = absl::FromUnixMicros(1700000000123456);
  lease.expires_at = absl::FromUnixMicros(1700000060123456);
  lease.ttl = absl::Microseconds(60000001);
  lease.state = LeaseState::kDraining;
  lease.held = true;
  ASSERT_TRUE(store().Put(lease).ok());

  EXPECT_THAT(Load(), ::testing::ElementsAre(lease));
  Reopen();
  EXPECT_THAT(Load(), ::testing::ElementsAre(lease));
}

TEST_P(LeaseStoreContractTest, RoundTripsDefaultsAndInfiniteTimes) {
  LeaseRecord defaults;
  defaults.id = "00000000000000000000000000000001";
  LeaseRecord infinite = TestLease(2);
  infinite.created_at = absl::UnixEpoch();
  infinite.expires_at = absl::InfiniteFuture();
  infinite.ttl = absl::InfiniteDuration();
  LeaseRecord before_epoch = TestLease(3);
  before_epoch.created_at = absl::FromUnixMicros(-1234567);
  before_epoch.expires_at = absl::InfinitePast();
  before_epoch.ttl = absl::ZeroDuration();
  before_epoch.base = 0;
  before_epoch.count = 0;
  before_epoch.names.clear();
  before_epoch.owner.clear();
  for (const LeaseRecord& lease : {defaults, infinite, before_epoch}) {
    ASSERT_TRUE(store().Put(lease).ok());
  }
  std::vector<LeaseRecord> want = SortedById({defaults, infinite, before_epoch});
  EXPECT_EQ(Load(), want);
  Reopen();
  EXPECT_EQ(Load(), want);
}

TEST_P(LeaseStoreContractTest, PutReplacesLeaseWithSameId) {
  LeaseRecord lease = TestLease(1);
  ASSERT_TRUE(store().Put(lease).ok());
  LeaseRecord renewed = lease;
  renewed.names = {"only"};
  renewed.count = 1;
  renewed.owner = {{"job", "other"}};
  renewed.expires_at += absl::Seconds(30);
  renewed.state = LeaseState::kDraining;
  ASSERT_TRUE(store().Put(renewed).ok());
  EXPECT_THAT(Load(), ::testing::ElementsAre(renewed));
  Reopen();
  EXPECT_THAT(Load(), ::testing::ElementsAre(renewed));
}

TEST_P(LeaseStoreContractTest, PutSameLeaseTwiceIsIdempotent) {
  LeaseRecord lease = TestLease(4);
  ASSERT_TRUE(store().Put(lease).ok());
  ASSERT_TRUE(store().Put(lease).ok());
  EXPECT_THAT(Load(), ::testing::ElementsAre(lease));
}

TEST_P(LeaseStoreContractTest, DeleteRemovesOnlyThatLease) {
  LeaseRecord a = TestLease(1), b = TestLease(2), c = TestLease(3);
  for (const LeaseRecord& lease : {a, b, c}) {
    ASSERT_TRUE(store().Put(lease).ok());
  }
  ASSERT_TRUE(store().Delete(b.id).ok());
  EXPECT_EQ(Load(), SortedById({a, c}));
  Reopen();
  EXPECT_EQ(Load(), SortedById({a, c}));
}

TEST_P(LeaseStoreContractTest, DeleteUnknownIdIsOk) {
  EXPECT_TRUE(store().Delete("ffffffffffffffffffffffffffffffff").ok());
  EXPECT_TRUE(store().Delete("").ok());
  LeaseRecord lease = TestLease(1);
  ASSERT_TRUE(store().Put(lease).ok());
  ASSERT_TRUE(store().Delete(lease.id).ok());
  EXPECT_TRUE(store().Delete(lease.id).ok());
  EXPECT_THAT(Load(), IsEmpty());
}

TEST_P(LeaseStoreContractTest, DeleteThenPutAgain) {
  LeaseRecord lease = TestLease(1);
  ASSERT_TRUE(store().Put(lease).ok());
  ASSERT_TRUE(store().Delete(lease.id).ok());
  lease.names = {"x", "y"};
  ASSERT_TRUE(store().Put(lease).ok());
  Reopen();
  EXPECT_THAT(Load(), ::testing::ElementsAre(lease));
}

TEST_P(LeaseStoreContractTest, ManyLeasesSurviveReopen) {
  constexpr int kLeases = 200;
  std::vector<LeaseRecord> want;
  for (int i = 0; i < kLeases; ++i) {
    LeaseRecord lease = TestLease(i);
    ASSERT_TRUE(store().Put(lease).ok()) << i;
    if (i % 3 == 0) {
      ASSERT_TRUE(store().Delete(lease.id).ok()) << i;
    } else {
      want.push_back(lease);
    }
  }
  want = SortedById(std::move(want));
  EXPECT_EQ(Load(), want);
  Reopen();
  EXPECT_EQ(Load(), want);
}

TEST_P(LeaseStoreContractTest, LoadAllReturnsCopies) {
  LeaseRecord lease = TestLease(1);
  ASSERT_TRUE(store().Put(lease).ok());
  std::vector<LeaseRecord> first = Load();
  ASSERT_EQ(first.size(), 1u);
  first[0].names.push_back("mutated");
  EXPECT_THAT(Load(), ::testing::ElementsAre(lease));
}

TEST_P(LeaseStoreContractTest, ConcurrentCallsAreSafe) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < kPerThread; ++i) {
        LeaseRecord lease = TestLease(t * kPerThread + i);
        EXPECT_TRUE(store().Put(lease).ok());
        EXPECT_TRUE(store().LoadAll().ok());
        if (i % 2 == 1) {
          EXPECT_TRUE(store().Delete(lease.id).ok());
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<LeaseRecord> want;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; i += 2) {
      want.push_back(TestLease(t * kPerThread + i));
    }
  }
  EXPECT_EQ(Load(), SortedById(want));
}

TEST_P(LeaseStoreContractTest, NewStoreHasNoDrainedPorts) {
  absl::StatusOr<std::vector<Port>> drained = store().LoadDrainedPorts();
  ASSERT_TRUE(drained.ok()) << drained.status();
  EXPECT_THAT(*drained, IsEmpty());
}

TEST_P(LeaseStoreContractTest, DrainedPortsSurviveReopenAndUndrain) {
  ASSERT_TRUE(store().SetPortDrained(30002, true).ok());
  ASSERT_TRUE(store().SetPortDrained(1, true).ok());
  ASSERT_TRUE(store().SetPortDrained(65535, true).ok());
  ASSERT_TRUE(store().SetPortDrained(30002, true).ok());  // idempotent
  ASSERT_TRUE(store().Put(TestLease(1)).ok());
  Reopen();
  absl::StatusOr<std::vector<Port>> drained = store().LoadDrainedPorts();
  ASSERT_TRUE(drained.ok()) << drained.status();
  EXPECT_THAT(*drained, ::testing::ElementsAre(1, 30002, 65535));
  ASSERT_TRUE(store().SetPortDrained(30002, false).ok());
  ASSERT_TRUE(store().SetPortDrained(30002, false).ok());  // idempotent
  ASSERT_TRUE(store().SetPortDrained(4000, false).ok());   // never drained
  Reopen();
  drained = store().LoadDrainedPorts();
  ASSERT_TRUE(drained.ok()) << drained.status();
  EXPECT_THAT(*drained, ::testing::ElementsAre(1, 65535));
  // Leases and drained ports are independent.
  EXPECT_THAT(Load(), ::testing::ElementsAre(TestLease(1)));
}

AuditEvent TestEvent(const std::string& type, const LeaseRecord& lease,
                     int64_t at_us) {
  AuditEvent event;
  event.at = absl::FromUnixMicros(at_us);
  event.type = type;
  event.lease = lease.IdPrefix();
  event.base = lease.base;
  event.count = lease.count;
  event.owner = lease.owner;
  event.by = "uid:1000";
  return event;
}

// The fields a store keeps, without the seq it assigns.
std::vector<std::string> Describe(const std::vector<AuditEvent>& events) {
  std::vector<std::string> out;
  for (const AuditEvent& e : events) {
    std::string owner;
    for (const auto& [key, value] : e.owner) {
      owner += key + "=" + value + ";";
    }
    out.push_back(e.type + " " + e.lease + " " + std::to_string(e.base) + "+" +
                  std::to_string(e.count) + " port " + std::to_string(e.port) +
                  " " + owner + " by " + e.by + " " + e.privilege + " " +
                  e.detail + " at " +
                  std::to_string(absl::ToUnixMicros(e.at)));
  }
  return out;
}

std::vector<AuditEvent> LoadEvents(LeaseStore& store, EventQuery query = {}) {
  absl::StatusOr<std::vector<AuditEvent>> events = store.LoadEvents(query);
  EXPECT_TRUE(events.ok()) << events.status();
  return events.ok() ? *std::move(events) : std::vector<AuditEvent>{};
}

TEST_P(LeaseStoreContractTest, AuditedChangesKeepTheirEventsInOrder) {
  const LeaseRecord a = TestLease(1);
  const LeaseRecord b = TestLease(2);
  AuditEvent drained;
  drained.at = absl::FromUnixMicros(1700000000000300);
  drained.type = "port-drain";
  drained.port = 65535;
  drained.by = "admin-token";
  drained.privilege = "admin-token";
  drained.detail = std::string("was free\n\0", 10);
  ASSERT_TRUE(store().PutAudited(a, TestEvent("grant", a, 1700000000000100)).ok());
  ASSERT_TRUE(store().PutAudited(b, TestEvent("grant", b, 1700000000000200)).ok());
  ASSERT_TRUE(store().RecordEvent(drained).ok());
  ASSERT_TRUE(
      store().DeleteAudited(a.id, TestEvent("release", a, 1700000000000400)).ok());
  const std::vector<std::string> want = Describe(
      {TestEvent("grant", a, 1700000000000100),
       TestEvent("grant", b, 1700000000000200), drained,
       TestEvent("release", a, 1700000000000400)});
  std::vector<AuditEvent> events = LoadEvents(store());
  EXPECT_EQ(Describe(events), want);
  ASSERT_EQ(events.size(), 4u);
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_GT(events[i].seq, events[i - 1].seq);
  }
  // The changes themselves were made.
  EXPECT_THAT(Load(), ::testing::ElementsAre(b));
  Reopen();
  EXPECT_EQ(Describe(LoadEvents(store())), want);

  // Pages: after a seq, since a time, at most a limit.
  EventQuery after;
  after.after_seq = events[1].seq;
  EXPECT_EQ(Describe(LoadEvents(store(), after)),
            std::vector<std::string>(want.begin() + 2, want.end()));
  EventQuery since;
  since.since = absl::FromUnixMicros(1700000000000200);
  since.limit = 2;
  EXPECT_EQ(Describe(LoadEvents(store(), since)),
            std::vector<std::string>(want.begin() + 1, want.begin() + 3));
}

INSTANTIATE_TEST_SUITE_P(
    AllStores, LeaseStoreContractTest,
    ::testing::Values(
        StoreKind{"Memory",
                  [] { return std::make_unique<MemoryHarness>(); }},
        StoreKind{"SqliteNormal",
                  [] { return std::make_unique<SqliteHarness>(SqliteOptions{}); }},
        StoreKind{"SqliteFull",
                  [] {
                    SqliteOptions options;
                    options.synchronous = SqliteOptions::Synchronous::kFull;
                    return std::make_unique<SqliteHarness>(options);
                  }}),
    [](const ::testing::TestParamInfo<StoreKind>& info) {
      return info.param.name;
    });

}  // namespace
}  // namespace portlease
