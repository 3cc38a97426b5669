#include "common/wire/proto_time.h"

#include "gtest/gtest.h"

namespace portlease {
namespace {

TEST(ProtoTimeTest, DurationsRoundTrip) {
  for (absl::Duration d :
       {absl::ZeroDuration(), absl::Milliseconds(1500), absl::Hours(24),
        -absl::Milliseconds(1500), absl::Nanoseconds(1)}) {
    google::protobuf::Duration proto;
    DurationToProto(d, &proto);
    EXPECT_EQ(DurationOf(proto), d);
    absl::StatusOr<absl::Duration> checked = DurationFromProto(proto, "ttl");
    ASSERT_TRUE(checked.ok()) << checked.status();
    EXPECT_EQ(*checked, d);
  }
  google::protobuf::Duration proto;
  DurationToProto(absl::InfiniteDuration(), &proto);
  EXPECT_EQ(proto.seconds(), 0);
  EXPECT_EQ(proto.nanos(), 0);
}

TEST(ProtoTimeTest, MalformedDurationsNameTheirField) {
  google::protobuf::Duration proto;
  proto.set_seconds(1);
  proto.set_nanos(-5);
  absl::StatusOr<absl::Duration> d = DurationFromProto(proto, "ttl");
  EXPECT_TRUE(absl::IsInvalidArgument(d.status()));
  EXPECT_EQ(d.status().message(),
            "ttl: malformed duration (seconds 1, nanos -5)");
  proto.set_seconds(0);
  proto.set_nanos(1'000'000'000);
  EXPECT_TRUE(absl::IsInvalidArgument(DurationFromProto(proto, "x").status()));
}

TEST(ProtoTimeTest, TimesRoundTripAndInfiniteIsUnset) {
  const absl::Time t = absl::FromUnixMillis(1'765'000'000'123);
  google::protobuf::Timestamp proto;
  TimeToProto(t, &proto);
  EXPECT_EQ(proto.seconds(), 1'765'000'000);
  EXPECT_EQ(proto.nanos(), 123'000'000);
  EXPECT_EQ(TimeFromProto(proto), t);
  TimeToProto(absl::InfiniteFuture(), &proto);
  EXPECT_EQ(proto.seconds(), 0);
  EXPECT_EQ(TimeFromProto(proto), absl::UnixEpoch());
}

}  // namespace
}  // namespace portlease
