// The PortLease service over real gRPC, in process: each test starts a
// server on a Unix socket in a temp dir and on loopback TCP port 0.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/service/convert.h"
#include "tests/server/test_util.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

class ServiceTest : public ::testing::TestWithParam<Transport> {
 protected:
  void Start(uint32_t pool_size = 64,
             std::function<void(LeaseManagerOptions*)> configure = nullptr,
             HolderLookup holders = nullptr) {
    TestServer::Options options;
    options.transport = GetParam();
    options.pool_size = pool_size;
    options.configure = std::move(configure);
    options.holders = std::move(holders);
    server_ = std::make_unique<TestServer>(std::move(options));
    stub_ = server_->NewStub();
  }

  grpc::Status Acquire(const v1::AcquireRequest& request, v1::Lease* lease,
                       absl::Duration timeout = absl::Seconds(10)) {
    grpc::ClientContext context;
    SetDeadline(&context, timeout);
    v1::AcquireResponse response;
    grpc::Status status = stub_->Acquire(&context, request, &response);
    if (lease != nullptr) *lease = response.lease();
    return status;
  }
  v1::Lease MustAcquire(const v1::AcquireRequest& request) {
    v1::Lease lease;
    grpc::Status status = Acquire(request, &lease);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return lease;
  }
  static v1::AcquireRequest Count(uint32_t n) {
    v1::AcquireRequest request;
    request.set_count(n);
    return request;
  }
  grpc::Status Get(const std::string& id, v1::Lease* lease = nullptr) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::GetRequest request;
    request.set_lease_id(id);
    v1::GetResponse response;
    grpc::Status status = stub_->Get(&context, request, &response);
    if (lease != nullptr) *lease = response.lease();
    return status;
  }
  grpc::Status Release(const std::string& id, uint64_t fencing_token = 0) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::ReleaseRequest request;
    request.set_lease_id(id);
    request.set_fencing_token(fencing_token);
    v1::ReleaseResponse response;
    return stub_->Release(&context, request, &response);
  }
  v1::StatusResponse Status() {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::StatusResponse response;
    EXPECT_TRUE(stub_->Status(&context, v1::StatusRequest(), &response).ok());
    return response;
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<v1::PortLease::Stub> stub_;
};

TEST_P(ServiceTest, NamedAcquireGivesContiguousPortsInRequestOrder) {
  Start();
  v1::AcquireRequest request;
  for (const char* name : {"redis", "worker", "web"}) request.add_names(name);
  (*request.mutable_owner())["job"] = "42";
  v1::Lease lease = MustAcquire(request);
  EXPECT_EQ(lease.lease_id().size(), 32u);
  EXPECT_EQ(lease.lease_id_prefix(), lease.lease_id().substr(0, 8));
  EXPECT_EQ(lease.count(), 3u);
  ASSERT_EQ(lease.ports_size(), 3);
  EXPECT_EQ(lease.ports(0).name(), "redis");
  EXPECT_EQ(lease.ports(1).name(), "worker");
  EXPECT_EQ(lease.ports(2).name(), "web");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(lease.ports(i).port(), lease.base_port() + i);
  }
  EXPECT_GE(lease.base_port(), server_->pool().lo);
  EXPECT_LE(lease.base_port() + 2, server_->pool().hi);
  EXPECT_EQ(lease.owner().at("job"), "42");
  EXPECT_EQ(lease.state(), v1::LEASE_STATE_LIVE);
  EXPECT_GT(TimeFromProto(lease.expires_at()), absl::Now());
}

TEST_P(ServiceTest, CountedAcquireGivesContiguousUnnamedPorts) {
  Start();
  v1::Lease a = MustAcquire(Count(4));
  v1::Lease b = MustAcquire(Count(2));
  ASSERT_EQ(a.ports_size(), 4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(a.ports(i).name(), "");
    EXPECT_EQ(a.ports(i).port(), a.base_port() + i);
  }
  EXPECT_TRUE(b.base_port() + 1 < a.base_port() ||
              b.base_port() > a.base_port() + 3);
  EXPECT_NE(a.lease_id(), b.lease_id());
}

TEST_P(ServiceTest, ReleaseEndsTheLease) {
  Start();
  v1::Lease lease = MustAcquire(Count(1));
  EXPECT_TRUE(Get(lease.lease_id()).ok());
  EXPECT_TRUE(Release(lease.lease_id()).ok());
  EXPECT_EQ(Get(lease.lease_id()).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Release(lease.lease_id()).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_P(ServiceTest, ASingleHostLeaseHasNoFencingTokenAndRefusesOne) {
  Start();
  v1::Lease lease = MustAcquire(Count(1));
  EXPECT_EQ(lease.fencing_token(), 0u);
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::RenewRequest renew;
  renew.set_lease_id(lease.lease_id());
  renew.set_fencing_token(9);
  v1::RenewResponse renewed;
  EXPECT_EQ(stub_->Renew(&context, renew, &renewed).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Release(lease.lease_id(), 9).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Get(lease.lease_id()).ok());  // nothing changed
  EXPECT_TRUE(Release(lease.lease_id(), 0).ok());
}

TEST_P(ServiceTest, RenewMovesTheExpiry) {
  Start();
  v1::AcquireRequest request = Count(1);
  request.mutable_ttl()->set_seconds(10);
  v1::Lease lease = MustAcquire(request);
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::RenewRequest renew;
  renew.set_lease_id(lease.lease_id());
  renew.mutable_ttl()->set_seconds(100);
  v1::RenewResponse response;
  ASSERT_TRUE(stub_->Renew(&context, renew, &response).ok());
  const absl::Duration moved = TimeFromProto(response.lease().expires_at()) -
                               TimeFromProto(lease.expires_at());
  EXPECT_GE(moved, absl::Seconds(89));
  EXPECT_LE(moved, absl::Seconds(91));
  EXPECT_EQ(response.lease().ttl().seconds(), 100);
  v1::Lease got;
  ASSERT_TRUE(Get(lease.lease_id(), &got).ok());
  EXPECT_EQ(TimeFromProto(got.expires_at()),
            TimeFromProto(response.lease().expires_at()));
}

TEST_P(ServiceTest, GetShowsTheIdButListOnlyItsPrefix) {
  Start();
  v1::AcquireRequest request = Count(2);
  (*request.mutable_owner())["job"] = "a";
  v1::Lease a = MustAcquire(request);
  (*request.mutable_owner())["job"] = "b";
  v1::Lease b = MustAcquire(request);
  v1::Lease got;
  ASSERT_TRUE(Get(a.lease_id(), &got).ok());
  EXPECT_EQ(got.lease_id(), a.lease_id());
  EXPECT_EQ(got.base_port(), a.base_port());

  grpc::ClientContext context;
  SetDeadline(&context);
  v1::ListResponse all;
  ASSERT_TRUE(stub_->List(&context, v1::ListRequest(), &all).ok());
  ASSERT_EQ(all.leases_size(), 2);
  for (const v1::Lease& listed : all.leases()) {
    EXPECT_EQ(listed.lease_id(), "");
    EXPECT_THAT(listed.lease_id_prefix(),
                ::testing::AnyOf(a.lease_id_prefix(), b.lease_id_prefix()));
    EXPECT_EQ(listed.lease_id_prefix().size(), 8u);
  }
  EXPECT_EQ(all.SerializeAsString().find(a.lease_id()), std::string::npos);

  grpc::ClientContext filtered_context;
  SetDeadline(&filtered_context);
  v1::ListRequest filter;
  (*filter.mutable_owner_filter())["job"] = "b";
  v1::ListResponse only_b;
  ASSERT_TRUE(stub_->List(&filtered_context, filter, &only_b).ok());
  ASSERT_EQ(only_b.leases_size(), 1);
  EXPECT_EQ(only_b.leases(0).lease_id_prefix(), b.lease_id_prefix());
}

TEST_P(ServiceTest, RetryWithTheSameRequestIdReturnsTheSameLease) {
  Start();
  v1::AcquireRequest request = Count(3);
  request.set_request_id("job-7-attempt");
  v1::Lease first = MustAcquire(request);
  v1::Lease again = MustAcquire(request);
  EXPECT_EQ(again.lease_id(), first.lease_id());
  EXPECT_EQ(again.base_port(), first.base_port());
  EXPECT_EQ(Status().live_leases(), 1u);
}

TEST_P(ServiceTest, WaitingAcquireIsServedWhenAnotherLeaseIsReleased) {
  Start(/*pool_size=*/4);
  v1::Lease holder = MustAcquire(Count(4));
  v1::Lease waited;
  grpc::Status waited_status;
  std::thread waiter([&] {
    v1::AcquireRequest request = Count(2);
    request.set_wait(true);
    waited_status = Acquire(request, &waited, absl::Seconds(20));
  });
  EXPECT_TRUE(PollUntil([&] { return Status().waiters() == 1; }, absl::Seconds(10)));
  ASSERT_TRUE(Release(holder.lease_id()).ok());
  waiter.join();
  ASSERT_TRUE(waited_status.ok()) << waited_status.error_message();
  EXPECT_EQ(waited.count(), 2u);
  EXPECT_EQ(Status().waiters(), 0u);
}

// The holder learns the server's hold grace with its lease, before its
// first Hold answer, whether the lease was free at once or waited for; and
// whether the lease was stored held (AcquireRequest.hold).
TEST_P(ServiceTest, AcquireAnswersTheServersHoldGrace) {
  Start(/*pool_size=*/4, [](LeaseManagerOptions* options) {
    options->hold_grace = absl::Milliseconds(4500);
  });
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::AcquireResponse response;
  v1::AcquireRequest request = Count(4);
  ASSERT_TRUE(stub_->Acquire(&context, request, &response).ok());
  EXPECT_EQ(response.hold_grace().seconds(), 4);
  EXPECT_EQ(response.hold_grace().nanos(), 500'000'000);
  EXPECT_FALSE(response.held());  // not asked for

  v1::AcquireResponse waited;
  grpc::Status waited_status;
  std::thread waiter([&] {
    grpc::ClientContext wait_context;
    SetDeadline(&wait_context, absl::Seconds(20));
    v1::AcquireRequest wait_request = Count(1);
    wait_request.set_wait(true);
    wait_request.set_hold(true);  // stored held with the grant
    waited_status = stub_->Acquire(&wait_context, wait_request, &waited);
  });
  EXPECT_TRUE(PollUntil([&] { return Status().waiters() == 1; }, absl::Seconds(10)));
  ASSERT_TRUE(Release(response.lease().lease_id()).ok());
  waiter.join();
  ASSERT_TRUE(waited_status.ok()) << waited_status.error_message();
  EXPECT_EQ(waited.hold_grace().seconds(), 4);
  EXPECT_EQ(waited.hold_grace().nanos(), 500'000'000);
  EXPECT_TRUE(waited.held());
}

TEST_P(ServiceTest, WaitingAcquireTimesOutAtTheDeadline) {
  Start(/*pool_size=*/4);
  MustAcquire(Count(4));
  v1::AcquireRequest request = Count(1);
  request.set_wait(true);
  const absl::Time start = absl::Now();
  grpc::Status status = Acquire(request, nullptr, absl::Milliseconds(300));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(250));
  // The server forgets the waiter.
  EXPECT_TRUE(PollUntil([&] { return Status().waiters() == 0; }, absl::Seconds(10)));
}

TEST_P(ServiceTest, CancelledWaitLeavesTheQueue) {
  Start(/*pool_size=*/2);
  MustAcquire(Count(2));
  grpc::ClientContext context;
  SetDeadline(&context, absl::Seconds(30));
  v1::AcquireRequest request = Count(1);
  request.set_wait(true);
  grpc::Status status;
  std::thread waiter([&] {
    v1::AcquireResponse response;
    status = stub_->Acquire(&context, request, &response);
  });
  EXPECT_TRUE(PollUntil([&] { return Status().waiters() == 1; }, absl::Seconds(10)));
  context.TryCancel();
  waiter.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(PollUntil([&] { return Status().waiters() == 0; }, absl::Seconds(10)));
}

TEST_P(ServiceTest, ExhaustedPoolSaysFreeVersusAsked) {
  Start(/*pool_size=*/4);
  MustAcquire(Count(3));
  grpc::Status status = Acquire(Count(2), nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("2 contiguous ports"));
  EXPECT_THAT(status.error_message(), HasSubstr("1 of 4 free"));
}

TEST_P(ServiceTest, MalformedRequestsAreInvalidArgument) {
  Start();
  struct Case {
    const char* what;
    v1::AcquireRequest request;
  };
  std::vector<Case> cases;
  auto add = [&cases](const char* what) -> v1::AcquireRequest& {
    cases.push_back({what, v1::AcquireRequest()});
    return cases.back().request;
  };
  add("neither names nor count");
  {
    v1::AcquireRequest& r = add("names and count");
    r.add_names("a");
    r.set_count(1);
  }
  add("bad name chars").add_names("Redis!");
  add("name starting with a digit").add_names("1abc");
  add("name too long").add_names(std::string(33, 'a'));
  {
    v1::AcquireRequest& r = add("duplicate names");
    r.add_names("web");
    r.add_names("web");
  }
  add("count too big").set_count(65);
  {
    v1::AcquireRequest& r = add("too many names");
    for (int i = 0; i < 65; ++i) r.add_names(absl::StrCat("p", i));
  }
  {
    v1::AcquireRequest& r = add("ttl too long");
    r.set_count(1);
    r.mutable_ttl()->set_seconds(48 * 3600);
  }
  {
    v1::AcquireRequest& r = add("negative ttl");
    r.set_count(1);
    r.mutable_ttl()->set_seconds(-5);
  }
  {
    v1::AcquireRequest& r = add("malformed ttl");
    r.set_count(1);
    r.mutable_ttl()->set_seconds(5);
    r.mutable_ttl()->set_nanos(-1);
  }
  {
    v1::AcquireRequest& r = add("oversized metadata value");
    r.set_count(1);
    (*r.mutable_owner())["cmd"] = std::string(2000, 'x');
  }
  {
    v1::AcquireRequest& r = add("too many metadata entries");
    r.set_count(1);
    for (int i = 0; i < 40; ++i)
      (*r.mutable_owner())[absl::StrCat("k", i)] = "v";
  }
  {
    v1::AcquireRequest& r = add("oversized request_id");
    r.set_count(1);
    r.set_request_id(std::string(500, 'r'));
  }
  {
    v1::AcquireRequest& r = add("count 0 with wait");
    r.set_wait(true);
  }
  for (const Case& c : cases) {
    grpc::Status status = Acquire(c.request, nullptr);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.what << ": " << status.error_message();
    EXPECT_FALSE(status.error_message().empty()) << c.what;
  }
  EXPECT_EQ(Status().live_leases(), 0u);
  EXPECT_EQ(Get("").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// The owner-entry limit is the client's own: the peer_* entries the server
// adds to every lease do not use it up.
TEST_P(ServiceTest, OwnerEntryLimitCountsOnlyTheClientsEntries) {
  Start();
  v1::AcquireRequest request = Count(1);
  for (int i = 0; i < 32; ++i) {
    (*request.mutable_owner())[absl::StrCat("k", i)] = "v";
  }
  v1::Lease lease;
  grpc::Status status = Acquire(request, &lease);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GE(lease.owner_size(), 32);
  (*request.mutable_owner())["k32"] = "v";
  request.set_request_id("another-request");
  status = Acquire(request, nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("33 entries; at most 32"));
}

// Who answers at most 256 ports per call.
TEST_P(ServiceTest, WhoTakesAtMost256Ports) {
  Start();
  v1::WhoRequest request;
  for (uint32_t i = 0; i < 257; ++i) request.add_ports(40000 + i);
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::WhoResponse response;
  grpc::Status status = stub_->Who(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("at most 256 ports"));
}

TEST_P(ServiceTest, UnknownLeaseIsNotFound) {
  Start();
  const std::string unknown(32, 'f');
  EXPECT_EQ(Get(unknown).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Release(unknown).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::RenewRequest renew;
  renew.set_lease_id(unknown);
  v1::RenewResponse response;
  EXPECT_EQ(stub_->Renew(&context, renew, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext hold_context;
  SetDeadline(&hold_context);
  auto stream = stub_->Hold(&hold_context);
  v1::HoldRequest hold;
  hold.set_lease_id(unknown);
  stream->Write(hold);
  stream->WritesDone();
  v1::HoldResponse ignored;
  EXPECT_FALSE(stream->Read(&ignored));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

// A server that lost its state re-creates a lease from the snapshot a
// Renew or Hold carries, during its recovery window only.
TEST_P(ServiceTest, RenewAndHoldReattachALostLeaseDuringTheRecoveryWindow) {
  Start(8);
  v1::Lease snapshot;
  snapshot.set_lease_id(std::string(32, 'a'));
  snapshot.set_base_port(server_->pool().lo);
  snapshot.set_count(2);
  snapshot.add_ports()->set_name("redis");
  snapshot.add_ports()->set_name("web");
  (*snapshot.mutable_owner())["CI_JOB_ID"] = "7";
  (*snapshot.mutable_owner())["peer_uid"] = "4242";  // forged: dropped
  snapshot.mutable_ttl()->set_seconds(30);
  auto renew = [&](const v1::Lease& lease) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::RenewRequest request;
    request.set_lease_id(lease.lease_id());
    *request.mutable_reattach() = lease;
    v1::RenewResponse response;
    return stub_->Renew(&context, request, &response);
  };
  // No recovery window: a lease the server does not know is not created.
  grpc::Status refused = renew(snapshot);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(refused.error_message(), HasSubstr("recovery window"));

  server_->manager()->StartRecovery(absl::Seconds(30), "a test lost it");
  v1::Lease busy;
  EXPECT_EQ(Acquire(Count(1), &busy).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(renew(snapshot).ok());
  v1::Lease back;
  ASSERT_TRUE(Get(snapshot.lease_id(), &back).ok());
  EXPECT_EQ(back.base_port(), server_->pool().lo);
  EXPECT_EQ(back.ports(1).name(), "web");
  EXPECT_EQ(back.owner().at("CI_JOB_ID"), "7");
  // The server's word on the caller (none over TCP), never the client's.
  EXPECT_TRUE(!back.owner().contains("peer_uid") ||
              back.owner().at("peer_uid") != "4242");

  // Hold with a snapshot of another lease: re-created and held.
  v1::Lease other = snapshot;
  other.set_lease_id(std::string(32, 'b'));
  other.set_base_port(server_->pool().lo + 2);
  grpc::ClientContext hold_context;
  SetDeadline(&hold_context);
  auto stream = stub_->Hold(&hold_context);
  v1::HoldRequest hold;
  hold.set_lease_id(other.lease_id());
  *hold.mutable_reattach() = other;
  ASSERT_TRUE(stream->Write(hold));
  v1::HoldResponse answer;
  EXPECT_TRUE(stream->Read(&answer));
  EXPECT_TRUE(answer.has_expires_at());
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_TRUE(Get(other.lease_id()).ok());

  // A snapshot on a port another lease holds is refused.
  v1::Lease overlapping = snapshot;
  overlapping.set_lease_id(std::string(32, 'c'));
  overlapping.set_base_port(server_->pool().lo + 1);
  refused = renew(overlapping);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(refused.error_message(), HasSubstr("held by another lease"));
}

INSTANTIATE_TEST_SUITE_P(Transports, ServiceTest,
                         ::testing::Values(Transport::kUnix, Transport::kTcp),
                         [](const ::testing::TestParamInfo<Transport>& info) {
                           return info.param == Transport::kUnix ? "Unix"
                                                                 : "Tcp";
                         });

}  // namespace
}  // namespace portlease
