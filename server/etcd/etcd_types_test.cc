#include "server/etcd/etcd_types.h"

#include <string>

#include "gtest/gtest.h"

namespace portlease::etcd {
namespace {

TEST(PrefixEndTest, IncrementsTheLastByte) {
  EXPECT_EQ(PrefixEnd("/ports/"), "/ports0");
  EXPECT_EQ(PrefixEnd("a"), "b");
}

TEST(PrefixEndTest, DropsTrailingFfBytes) {
  EXPECT_EQ(PrefixEnd(std::string("a\xff\xff", 3)), "b");
}

TEST(PrefixEndTest, EmptyOrAllFfMeansEveryKey) {
  EXPECT_EQ(PrefixEnd(""), std::string(1, '\0'));
  EXPECT_EQ(PrefixEnd(std::string("\xff", 1)), std::string(1, '\0'));
}

TEST(CompareTest, AbsentIsCreateRevisionZero) {
  Compare c = Compare::Absent("/k");
  EXPECT_EQ(c.key, "/k");
  EXPECT_EQ(c.target, Compare::kCreate);
  EXPECT_EQ(c.result, Compare::kEqual);
  EXPECT_EQ(c.number, 0);
}

TEST(OpTest, PutCarriesItsLease) {
  Op op = Op::Put("/k", "v", 7);
  EXPECT_EQ(op.kind, Op::kPut);
  EXPECT_EQ(op.value, "v");
  EXPECT_EQ(op.lease, 7);
  EXPECT_EQ(Op::DeleteRange("/a", "/b").range_end, "/b");
}

}  // namespace
}  // namespace portlease::etcd
