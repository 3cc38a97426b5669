#include "server/service/convert.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

LeaseRecord SampleLease() {
  LeaseRecord lease;
  lease.id = "0123456789abcdef0123456789abcdef";
  lease.names = {"redis", "worker"};
  lease.base = 20000;
  lease.count = 2;
  lease.udp = true;
  lease.owner = {{"job", "42"}};
  lease.request_id = "r1";
  lease.created_at = absl::FromUnixMillis(1'700'000'000'123);
  lease.expires_at = absl::FromUnixSeconds(1'700'000'060);
  lease.ttl = absl::Milliseconds(60'500);
  return lease;
}

TEST(LeaseToProtoTest, FullCarriesTheIdAndEveryField) {
  v1::Lease out;
  LeaseToProto(SampleLease(), LeaseIdVisibility::kFull, &out);
  EXPECT_EQ(out.lease_id(), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(out.lease_id_prefix(), "01234567");
  ASSERT_EQ(out.ports_size(), 2);
  EXPECT_EQ(out.ports(0).name(), "redis");
  EXPECT_EQ(out.ports(0).port(), 20000u);
  EXPECT_EQ(out.ports(1).name(), "worker");
  EXPECT_EQ(out.ports(1).port(), 20001u);
  EXPECT_EQ(out.base_port(), 20000u);
  EXPECT_EQ(out.count(), 2u);
  EXPECT_TRUE(out.udp());
  EXPECT_EQ(out.owner().at("job"), "42");
  EXPECT_EQ(out.request_id(), "r1");
  EXPECT_EQ(TimeFromProto(out.created_at()),
            absl::FromUnixMillis(1'700'000'000'123));
  EXPECT_EQ(out.expires_at().seconds(), 1'700'000'060);
  EXPECT_EQ(out.ttl().seconds(), 60);
  EXPECT_EQ(out.ttl().nanos(), 500'000'000);
  EXPECT_EQ(out.state(), v1::LEASE_STATE_LIVE);
}

TEST(LeaseToProtoTest, PrefixOnlyHidesTheSecret) {
  v1::Lease out;
  LeaseToProto(SampleLease(), LeaseIdVisibility::kPrefixOnly, &out);
  EXPECT_EQ(out.lease_id(), "");
  EXPECT_EQ(out.lease_id_prefix(), "01234567");
  EXPECT_EQ(out.SerializeAsString().find("0123456789abcdef0123"),
            std::string::npos);
  // The request_id is the holder's: listings never carry it.
  EXPECT_EQ(out.request_id(), "");
}

TEST(LeaseToProtoTest, CarriesTheFencingToken) {
  v1::Lease out;
  LeaseToProto(SampleLease(), LeaseIdVisibility::kFull, &out);
  EXPECT_EQ(out.fencing_token(), 0u);  // a single host's lease
  LeaseRecord replicated = SampleLease();
  replicated.fencing_token = 4711;
  LeaseToProto(replicated, LeaseIdVisibility::kPrefixOnly, &out);
  EXPECT_EQ(out.fencing_token(), 4711u);
}

TEST(LeaseToProtoTest, CountedLeaseHasUnnamedPorts) {
  LeaseRecord lease = SampleLease();
  lease.names.clear();
  lease.count = 3;
  lease.state = LeaseState::kDraining;
  v1::Lease out;
  LeaseToProto(lease, LeaseIdVisibility::kFull, &out);
  ASSERT_EQ(out.ports_size(), 3);
  EXPECT_EQ(out.ports(2).name(), "");
  EXPECT_EQ(out.ports(2).port(), 20002u);
  EXPECT_EQ(out.state(), v1::LEASE_STATE_DRAINING);
}

TEST(AcquireParamsFromProtoTest, CopiesTheRequest) {
  v1::AcquireRequest request;
  request.add_names("a");
  request.add_names("b");
  request.mutable_ttl()->set_seconds(5);
  (*request.mutable_owner())["host"] = "ci1";
  request.set_request_id("x");
  request.set_udp(true);
  absl::StatusOr<AcquireParams> params = AcquireParamsFromProto(request);
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_THAT(params->names, testing::ElementsAre("a", "b"));
  EXPECT_EQ(params->count, 0u);
  EXPECT_EQ(params->ttl, absl::Seconds(5));
  EXPECT_EQ(params->owner.at("host"), "ci1");
  EXPECT_EQ(params->request_id, "x");
  EXPECT_TRUE(params->udp);
}

TEST(AcquireParamsFromProtoTest, UnsetTtlIsZero) {
  v1::AcquireRequest request;
  request.set_count(2);
  absl::StatusOr<AcquireParams> params = AcquireParamsFromProto(request);
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(params->ttl, absl::ZeroDuration());
  EXPECT_EQ(params->count, 2u);
}

TEST(DurationFromProtoTest, RejectsMalformed) {
  google::protobuf::Duration d;
  d.set_seconds(1);
  d.set_nanos(-1);
  EXPECT_EQ(DurationFromProto(d, "ttl").status().code(),
            absl::StatusCode::kInvalidArgument);
  d.set_seconds(0);
  d.set_nanos(1'000'000'000);
  EXPECT_EQ(DurationFromProto(d, "ttl").status().code(),
            absl::StatusCode::kInvalidArgument);
  d.set_seconds(-2);
  d.set_nanos(-5);
  EXPECT_EQ(*DurationFromProto(d, "ttl"),
            -absl::Seconds(2) - absl::Nanoseconds(5));
}

TEST(DurationToProtoTest, RoundTrips) {
  google::protobuf::Duration d;
  DurationToProto(absl::Milliseconds(-1500), &d);
  EXPECT_EQ(d.seconds(), -1);
  EXPECT_EQ(d.nanos(), -500'000'000);
  EXPECT_EQ(*DurationFromProto(d, "x"), absl::Milliseconds(-1500));
}

TEST(TimeToProtoTest, InfiniteIsUnset) {
  google::protobuf::Timestamp t;
  t.set_seconds(5);
  TimeToProto(absl::InfinitePast(), &t);
  EXPECT_EQ(t.seconds(), 0);
  TimeToProto(absl::FromUnixNanos(1'500'000'000'000'000'007), &t);
  EXPECT_EQ(TimeFromProto(t), absl::FromUnixNanos(1'500'000'000'000'000'007));
}

TEST(ToGrpcStatusTest, KeepsCodeAndMessage) {
  grpc::Status s = ToGrpcStatus(absl::ResourceExhaustedError("2 free, 3"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(s.error_message(), "2 free, 3");
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_EQ(ToGrpcStatus(absl::DeadlineExceededError("")).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST(RemainingUntilTest, CapsAndClamps) {
  const auto now = std::chrono::system_clock::now();
  EXPECT_EQ(RemainingUntil(std::chrono::system_clock::time_point::max(),
                           absl::Hours(1)),
            absl::Hours(1));
  EXPECT_EQ(RemainingUntil(now - std::chrono::seconds(5), absl::Hours(1)),
            absl::ZeroDuration());
  EXPECT_EQ(RemainingUntil(now + std::chrono::hours(5), absl::Hours(1)),
            absl::Hours(1));
  const absl::Duration left =
      RemainingUntil(now + std::chrono::seconds(30), absl::Hours(1));
  EXPECT_GT(left, absl::Seconds(20));
  EXPECT_LE(left, absl::Seconds(30));
}

TEST(CheckLeaseIdFieldTest, EmptyAndHugeAreInvalid) {
  EXPECT_EQ(CheckLeaseIdField("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckLeaseIdField(std::string(1000, 'a')).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckLeaseIdField("deadbeef").ok());
}

}  // namespace
}  // namespace portlease
