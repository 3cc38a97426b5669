#include "server/core/allocator.h"

#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace portlease {
namespace {

TEST(PortAllocatorTest, PoolAndExcludes) {
  PortAllocator a({{20000, 20009}, {30000, 30000}}, {20005});
  EXPECT_EQ(a.pool_size(), 10u);
  EXPECT_EQ(a.available(), 10u);
  EXPECT_TRUE(a.InPool(20000));
  EXPECT_FALSE(a.InPool(20005));
  EXPECT_FALSE(a.InPool(19999));
  EXPECT_EQ(a.largest_block(), 5u);
}

TEST(PortAllocatorTest, FindsContiguousBlocksOnly) {
  PortAllocator a({{100, 109}}, {});
  ASSERT_EQ(a.Find(10), Port{100});
  EXPECT_EQ(a.Find(11), std::nullopt);
  a.Set(103, 1, false);  // 100-102 | 104-109
  EXPECT_EQ(a.Find(4), Port{104});
  EXPECT_EQ(a.Find(7), std::nullopt);
  EXPECT_EQ(a.largest_block(), 6u);
  EXPECT_EQ(a.available(), 9u);
  a.Set(103, 1, true);
  EXPECT_EQ(a.Find(10), Port{100});
}

TEST(PortAllocatorTest, SettingPortsOutsideThePoolAvailableIsANoOp) {
  PortAllocator a({{100, 101}}, {});
  a.Set(102, 5, true);
  EXPECT_EQ(a.available(), 2u);
  EXPECT_FALSE(a.IsAvailable(103));
}

TEST(PortAllocatorTest, NextFitWrapsAround) {
  PortAllocator a({{100, 119}}, {});
  a.AdvanceCursor(104);
  EXPECT_EQ(a.Find(3), Port{105});
  a.AdvanceCursor(117);
  EXPECT_EQ(a.Find(2), Port{118});
  EXPECT_EQ(a.Find(3), Port{100});  // 118-119 is too short: wrap
  a.AdvanceCursor(65535);
  EXPECT_EQ(a.Find(1), Port{100});
}

TEST(PortAllocatorTest, BlockStraddlingTheCursorIsFoundAfterWrapping) {
  PortAllocator a({{100, 109}}, {});
  a.AdvanceCursor(104);  // search starts at 105; only 100-109 fits 10
  EXPECT_EQ(a.Find(10), Port{100});
}

// Compares Find with a brute-force search over random fragmentation.
TEST(PortAllocatorTest, MatchesBruteForce) {
  std::mt19937 rng(42);
  const Port lo = 1000, hi = 1999;
  PortAllocator a({{lo, hi}}, {});
  std::vector<bool> avail(65536, false);
  for (uint32_t p = lo; p <= hi; ++p) avail[p] = true;
  for (int step = 0; step < 3000; ++step) {
    Port p = static_cast<Port>(lo + rng() % (hi - lo + 1));
    bool v = rng() % 3 != 0;
    a.Set(p, 1, v);
    avail[p] = v;
    uint32_t count = 1 + rng() % 6;
    uint32_t cursor = lo + rng() % (hi - lo + 1);
    a.AdvanceCursor(static_cast<Port>(cursor - 1));
    // Brute force: first fit at or after cursor, else first fit from 0.
    auto fits = [&](uint32_t s) {
      for (uint32_t i = 0; i < count; ++i) {
        if (s + i > 65535 || !avail[s + i]) return false;
      }
      return true;
    };
    std::optional<Port> expected;
    for (uint32_t s = cursor; s <= hi && !expected; ++s) {
      if (fits(s)) expected = static_cast<Port>(s);
    }
    for (uint32_t s = lo; s <= hi && !expected; ++s) {
      if (fits(s)) expected = static_cast<Port>(s);
    }
    ASSERT_EQ(a.Find(count), expected) << "step " << step << " count " << count;
    uint32_t n = 0, best = 0, run = 0;
    for (uint32_t q = lo; q <= hi; ++q) {
      n += avail[q];
      run = avail[q] ? run + 1 : 0;
      best = std::max(best, run);
    }
    ASSERT_EQ(a.available(), n);
    ASSERT_EQ(a.largest_block(), best);
  }
}

}  // namespace
}  // namespace portlease
