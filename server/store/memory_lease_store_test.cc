// MemoryLeaseStore's failure injection (the rest is the shared contract).
#include "server/store/memory_lease_store.h"

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "server/store/test_leases.h"

namespace portlease {
namespace {

TEST(MemoryLeaseStoreTest, InjectedWriteFailureChangesNothing) {
  MemoryLeaseStore store;
  ASSERT_TRUE(store.Put(TestLease(1)).ok());
  EXPECT_EQ(store.writes(), 1);

  store.set_write_failure(absl::UnavailableError("disk full"));
  EXPECT_EQ(store.Put(TestLease(2)), absl::UnavailableError("disk full"));
  EXPECT_EQ(store.Delete(TestLease(1).id).code(),
            absl::StatusCode::kUnavailable);
  absl::StatusOr<std::vector<LeaseRecord>> all = store.LoadAll();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, std::vector<LeaseRecord>{TestLease(1)});
  EXPECT_EQ(store.writes(), 1);
  EXPECT_EQ(store.size(), 1u);

  store.set_write_failure(absl::OkStatus());
  EXPECT_TRUE(store.Put(TestLease(2)).ok());
  EXPECT_TRUE(store.Delete(TestLease(1).id).ok());
  EXPECT_EQ(store.writes(), 3);
  EXPECT_EQ(store.size(), 1u);
}

TEST(MemoryLeaseStoreTest, InjectedLoadFailure) {
  MemoryLeaseStore store;
  ASSERT_TRUE(store.Put(TestLease(1)).ok());
  store.set_load_failure(absl::DataLossError("corrupt"));
  EXPECT_EQ(store.LoadAll().status(), absl::DataLossError("corrupt"));
  EXPECT_TRUE(store.Put(TestLease(2)).ok());  // Writes still work.
  store.set_load_failure(absl::OkStatus());
  absl::StatusOr<std::vector<LeaseRecord>> all = store.LoadAll();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(SortedById(*all), SortedById({TestLease(1), TestLease(2)}));
}

}  // namespace
}  // namespace portlease
