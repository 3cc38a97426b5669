#include "server/replicated/lease_cache.h"

#include "gtest/gtest.h"

namespace portlease::replicated {
namespace {

etcd::KeyValue Kv(std::string key, std::string value, int64_t revision) {
  etcd::KeyValue kv;
  kv.key = std::move(key);
  kv.value = std::move(value);
  kv.create_revision = revision;
  kv.mod_revision = revision;
  return kv;
}

LeaseCache MakeCache(std::vector<PortRange> ranges, std::vector<Port> exclude) {
  absl::StatusOr<PoolConfig> pool = PoolConfig::Make(ranges, exclude, PoolFit());
  EXPECT_TRUE(pool.ok()) << pool.status();
  return LeaseCache(KeySpace("/p/"), *pool);
}

TEST(LeaseCacheTest, FindsFirstFitFromTheCursorAndWraps) {
  LeaseCache cache = MakeCache({{100, 109}}, {103});
  KeySpace keys("/p/");
  cache.Reset({Kv(keys.PortKey(100), "a", 2), Kv(keys.QuarantineKey(105), "", 3)}, 3);
  EXPECT_EQ(cache.FindBlock(2, 100, {}), 101);
  EXPECT_EQ(cache.FindBlock(3, 100, {}), 106);
  EXPECT_EQ(cache.FindBlock(1, 108, {}), 108);
  EXPECT_EQ(cache.FindBlock(3, 108, {}), 106);  // wrapped, never across 109->100
  EXPECT_EQ(cache.FindBlock(5, 100, {}), std::nullopt);
  EXPECT_EQ(cache.FindBlock(2, 106, {107}), 108);
  EXPECT_EQ(cache.FreeCount(), 7u);
  EXPECT_EQ(cache.LargestFreeBlock(), 4u);
}

TEST(LeaseCacheTest, AppliesWatchBatchesAndIgnoresOldObservations) {
  LeaseCache cache = MakeCache({{100, 103}}, {});
  KeySpace keys("/p/");
  cache.Reset({}, 10);
  etcd::WatchBatch batch;
  batch.events.push_back({etcd::WatchEvent::kPut, Kv(keys.PortKey(100), "a", 11)});
  batch.revision = 11;
  EXPECT_FALSE(cache.Apply(batch));
  EXPECT_TRUE(cache.Taken(100));
  etcd::WatchBatch deleted;
  deleted.events.push_back({etcd::WatchEvent::kDelete, Kv(keys.PortKey(100), "", 12)});
  deleted.revision = 12;
  EXPECT_TRUE(cache.Apply(deleted));
  EXPECT_FALSE(cache.Taken(100));
  cache.Observe({Kv(keys.PortKey(101), "b", 9)}, 12);  // not newer
  EXPECT_FALSE(cache.Taken(101));
  cache.Observe({Kv(keys.PortKey(101), "b", 13)}, 13);
  EXPECT_TRUE(cache.Taken(101));
}

}  // namespace
}  // namespace portlease::replicated
