// The security rules of the served API, end to end over real sockets:
// peer credentials recorded and not forgeable, the lease id as the only
// capability, admin RPCs behind the admin token, TLS and the refusal of
// plaintext TCP beyond loopback, and every limit.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "portlease/v1/portlease.grpc.pb.h"
#include "server/service/listen_address.h"
#include "server/service/server.h"
#include "tests/server/test_util.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

constexpr char kToken[] = "0123456789abcdef-admin-token";

// TestServer options, set field by field.
TestServer::Options Options(
    std::function<void(ServerOptions*)> server = nullptr,
    std::function<void(LeaseManagerOptions*)> manager = nullptr,
    Transport transport = Transport::kUnix, uint32_t pool_size = 64) {
  TestServer::Options options;
  options.configure_server = std::move(server);
  options.configure = std::move(manager);
  options.transport = transport;
  options.pool_size = pool_size;
  return options;
}

grpc::Status Acquire(v1::PortLease::Stub* stub, v1::AcquireRequest request,
                     v1::Lease* lease = nullptr) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::AcquireResponse response;
  grpc::Status status = stub->Acquire(&context, request, &response);
  if (lease != nullptr) *lease = response.lease();
  return status;
}

v1::AcquireRequest Count(uint32_t n) {
  v1::AcquireRequest request;
  request.set_count(n);
  return request;
}

TEST(PeerCredentialsTest, UnixCallersAreRecordedInTheOwner) {
  TestServer server({});
  auto stub = server.NewStub();
  v1::AcquireRequest request = Count(1);
  (*request.mutable_owner())["job"] = "7";
  v1::Lease lease;
  ASSERT_TRUE(Acquire(stub.get(), request, &lease).ok());
  const auto& owner = lease.owner();
  EXPECT_EQ(owner.at("job"), "7");
  EXPECT_EQ(owner.at("peer_uid"), absl::StrCat(getuid()));
  EXPECT_EQ(owner.at("peer_pid"), absl::StrCat(getpid()));
  EXPECT_FALSE(owner.at("peer_user").empty());
  // A second connection from the same process is recognised too.
  auto other = v1::PortLease::NewStub(grpc::CreateCustomChannel(
      server.address(), grpc::InsecureChannelCredentials(),
      [] {
        grpc::ChannelArguments args;
        args.SetInt("portlease.test.unique", 1);  // no subchannel sharing
        return args;
      }()));
  ASSERT_TRUE(Acquire(other.get(), request, &lease).ok());
  EXPECT_EQ(lease.owner().at("peer_pid"), absl::StrCat(getpid()));
}

TEST(PeerCredentialsTest, UnixCallersWithoutAUserGetTheirPeerUser) {
  TestServer server({});
  auto stub = server.NewStub();
  v1::Lease lease;
  ASSERT_TRUE(Acquire(stub.get(), Count(1), &lease).ok());
  EXPECT_FALSE(lease.owner().at("peer_user").empty());
  EXPECT_EQ(lease.owner().at("user"), lease.owner().at("peer_user"));
  // A user the client names is kept: the server's word is peer_user.
  v1::AcquireRequest named = Count(1);
  (*named.mutable_owner())["user"] = "ci-bot";
  ASSERT_TRUE(Acquire(stub.get(), named, &lease).ok());
  EXPECT_EQ(lease.owner().at("user"), "ci-bot");
}

TEST(PeerCredentialsTest, TcpCallersAreRecordedByAddress) {
  TestServer server(Options(nullptr, nullptr, Transport::kTcp));
  v1::Lease lease;
  ASSERT_TRUE(Acquire(server.NewStub().get(), Count(1), &lease).ok());
  EXPECT_EQ(lease.owner().at("peer_addr"), "127.0.0.1");
  EXPECT_FALSE(lease.owner().contains("peer_uid"));
  EXPECT_FALSE(lease.owner().contains("user"));
}

TEST(PeerCredentialsTest, ClientsCannotForgePeerKeys) {
  TestServer server({});
  auto stub = server.NewStub();
  for (const char* key : {"peer_uid", "peer_pid", "peer_user", "peer_addr",
                          "peer_anything"}) {
    v1::AcquireRequest request = Count(1);
    (*request.mutable_owner())[key] = "0";
    grpc::Status status = Acquire(stub.get(), request);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << key;
    EXPECT_THAT(status.error_message(), HasSubstr("reserved"));
  }
  EXPECT_EQ(server.manager()->Stats().live_leases, 0u);
}

TEST(PeerCredentialsTest, SocketIsGroupAccessibleOnly) {
  TestServer server(
      Options([](ServerOptions* o) { o->unix_socket_group = getgid(); }));
  const std::string path = server.address().substr(5);  // "unix:"
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(st.st_gid, getgid());
}

TEST(LeaseSecretTest, OnlyTheLeaseIdRenewsHoldsOrReleases) {
  TestServer server({});
  auto stub = server.NewStub();
  v1::Lease lease;
  ASSERT_TRUE(Acquire(stub.get(), Count(2), &lease).ok());
  // Same prefix, different secret.
  std::string wrong = lease.lease_id();
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  for (const std::string& id : {wrong, lease.lease_id_prefix()}) {
    grpc::ClientContext c1, c2, c3;
    SetDeadline(&c1);
    SetDeadline(&c2);
    SetDeadline(&c3);
    v1::RenewRequest renew;
    renew.set_lease_id(id);
    v1::RenewResponse renewed;
    EXPECT_EQ(stub->Renew(&c1, renew, &renewed).error_code(),
              grpc::StatusCode::NOT_FOUND);
    v1::ReleaseRequest release;
    release.set_lease_id(id);
    v1::ReleaseResponse released;
    EXPECT_EQ(stub->Release(&c2, release, &released).error_code(),
              grpc::StatusCode::NOT_FOUND);
    auto hold = stub->Hold(&c3);
    v1::HoldRequest first;
    first.set_lease_id(id);
    hold->Write(first);
    hold->WritesDone();
    v1::HoldResponse ignored;
    while (hold->Read(&ignored)) {
    }
    EXPECT_EQ(hold->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
  }
  EXPECT_EQ(server.manager()->Stats().live_leases, 1u);
}

TEST(LeaseSecretTest, ListingNeverShowsFullIds) {
  TestServer server({});
  auto stub = server.NewStub();
  v1::Lease lease;
  v1::AcquireRequest request = Count(1);
  const std::string request_id = "victim-request-id-5f2c9a";
  request.set_request_id(request_id);
  ASSERT_TRUE(Acquire(stub.get(), request, &lease).ok());
  ASSERT_EQ(lease.lease_id().size(), 32u);
  EXPECT_EQ(lease.request_id(), request_id);  // the holder's own reply
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::ListResponse list;
  ASSERT_TRUE(stub->List(&context, v1::ListRequest(), &list).ok());
  ASSERT_EQ(list.leases_size(), 1);
  EXPECT_EQ(list.leases(0).lease_id(), "");
  EXPECT_EQ(list.leases(0).lease_id_prefix(), lease.lease_id().substr(0, 8));
  EXPECT_EQ(list.leases(0).SerializeAsString().find(lease.lease_id()),
            std::string::npos);
  EXPECT_EQ(list.leases(0).request_id(), "");
  EXPECT_EQ(list.SerializeAsString().find(request_id), std::string::npos);
  grpc::ClientContext who_context;
  SetDeadline(&who_context);
  v1::WhoRequest who;
  who.add_ports(lease.base_port());
  v1::WhoResponse answer;
  ASSERT_TRUE(stub->Who(&who_context, who, &answer).ok());
  ASSERT_EQ(answer.ports_size(), 1);
  EXPECT_EQ(answer.ports(0).lease().lease_id_prefix(),
            lease.lease_id_prefix());
  EXPECT_EQ(answer.SerializeAsString().find(lease.lease_id()),
            std::string::npos);
  EXPECT_EQ(answer.SerializeAsString().find(request_id), std::string::npos);
}

// Identity decides, not knowledge of an id: the same process over the Unix
// socket (its uid) and over loopback TCP (its address) is two callers.
TEST(CallerIdentityTest, CrossTransportIsAnotherCaller) {
  std::vector<LeaseEvent> events;
  absl::Mutex mu;
  TestServer server(Options(
      [](ServerOptions* o) { o->listen.push_back("127.0.0.1:0"); },
      [&events, &mu](LeaseManagerOptions* o) {
        o->on_event = [&events, &mu](LeaseEvent e) {
          absl::MutexLock lock(&mu);
          events.push_back(std::move(e));
        };
      }));
  ASSERT_EQ(server.server()->addresses().size(), 2u);
  auto unix_stub = server.NewStub();
  auto tcp_stub = v1::PortLease::NewStub(grpc::CreateChannel(
      server.server()->addresses()[1], grpc::InsecureChannelCredentials()));

  v1::AcquireRequest request = Count(1);
  request.set_request_id("r1");
  v1::Lease mine;
  ASSERT_TRUE(Acquire(unix_stub.get(), request, &mine).ok());
  // The replay over TCP is another caller's request: a lease of its own.
  v1::Lease theirs;
  ASSERT_TRUE(Acquire(tcp_stub.get(), request, &theirs).ok());
  EXPECT_NE(theirs.lease_id(), mine.lease_id());
  EXPECT_NE(theirs.base_port(), mine.base_port());
  // The Unix caller's own replay still answers its lease.
  v1::Lease again;
  ASSERT_TRUE(Acquire(unix_stub.get(), request, &again).ok());
  EXPECT_EQ(again.lease_id(), mine.lease_id());

  // The TCP caller knows the id, yet may not renew, release or hold it.
  grpc::ClientContext c1, c2, c3;
  SetDeadline(&c1);
  SetDeadline(&c2);
  SetDeadline(&c3);
  v1::RenewRequest renew;
  renew.set_lease_id(mine.lease_id());
  v1::RenewResponse renewed;
  grpc::Status denied = tcp_stub->Renew(&c1, renew, &renewed);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(denied.error_message(),
            absl::StrCat("lease ", mine.lease_id_prefix(), "... belongs to uid:",
                         getuid(), "; addr:loopback may not renew it (only "
                         "its caller, root or the admin token may)"));
  v1::ReleaseRequest release;
  release.set_lease_id(mine.lease_id());
  v1::ReleaseResponse released;
  EXPECT_EQ(tcp_stub->Release(&c2, release, &released).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  auto hold = tcp_stub->Hold(&c3);
  v1::HoldRequest first;
  first.set_lease_id(mine.lease_id());
  hold->Write(first);
  hold->WritesDone();
  v1::HoldResponse ignored;
  while (hold->Read(&ignored)) {
  }
  EXPECT_EQ(hold->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  absl::StatusOr<LeaseRecord> kept =
      server.manager()->Get(mine.lease_id(), Principal{"test", "root"});
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(absl::ToUnixSeconds(kept->expires_at),
            mine.expires_at().seconds());

  // Over Unix, root may renew the TCP caller's lease, and it is logged as
  // an override; another uid may not.
  grpc::ClientContext c4;
  SetDeadline(&c4);
  renew.set_lease_id(theirs.lease_id());
  grpc::Status by_unix = unix_stub->Renew(&c4, renew, &renewed);
  if (getuid() != 0) {
    EXPECT_EQ(by_unix.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    return;
  }
  ASSERT_TRUE(by_unix.ok()) << by_unix.error_message();
  absl::MutexLock lock(&mu);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(LeaseEventName(events.back().type), std::string("renew"));
  EXPECT_EQ(events.back().by, "uid:0");
  EXPECT_EQ(events.back().privilege, "root");
}

class AdminTest : public ::testing::Test {
 protected:
  grpc::Status ForceRelease(const std::string& token, uint32_t port,
                            v1::ForceReleaseResponse* response) {
    grpc::ClientContext context;
    SetDeadline(&context);
    if (!token.empty()) context.AddMetadata("authorization", token);
    v1::ForceReleaseRequest request;
    request.set_port(port);
    return stub_->ForceRelease(&context, request, response);
  }
  grpc::Status Drain(const std::string& token, uint32_t port, bool drain) {
    grpc::ClientContext context;
    SetDeadline(&context);
    if (!token.empty()) context.AddMetadata("authorization", token);
    if (drain) {
      v1::DrainPortRequest request;
      request.set_port(port);
      v1::DrainPortResponse response;
      return stub_->DrainPort(&context, request, &response);
    }
    v1::UndrainPortRequest request;
    request.set_port(port);
    v1::UndrainPortResponse response;
    return stub_->UndrainPort(&context, request, &response);
  }

  // portleased's default --always-exclude.
  TestServer server_{
      Options([](ServerOptions* o) { o->service.admin_token = kToken; },
              [](LeaseManagerOptions* o) {
                o->pool_fit.always_exclude = {6379, 7001, 8080, 8081, 9090};
              })};
  std::unique_ptr<v1::PortLease::Stub> stub_ = server_.NewStub();
};

TEST_F(AdminTest, ForceReleaseNeedsTheAdminToken) {
  v1::Lease lease;
  ASSERT_TRUE(Acquire(stub_.get(), Count(3), &lease).ok());
  v1::ForceReleaseResponse response;
  for (const std::string& bad :
       {std::string(), std::string("Bearer wrong"),
        absl::StrCat("Bearer ", kToken, "x"), std::string(kToken),
        absl::StrCat("Basic ", kToken)}) {
    grpc::Status status = ForceRelease(bad, lease.base_port(), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << bad;
    EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr(kToken)));
  }
  EXPECT_EQ(server_.manager()->Stats().live_leases, 1u);
  grpc::Status ok = ForceRelease(absl::StrCat("Bearer ", kToken),
                                 lease.base_port() + 2, &response);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(response.lease().lease_id_prefix(), lease.lease_id_prefix());
  EXPECT_EQ(response.lease().lease_id(), "");
  EXPECT_EQ(server_.manager()->Stats().live_leases, 0u);
}

TEST_F(AdminTest, DrainAndUndrainNeedTheAdminToken) {
  const uint32_t port = server_.pool().lo;
  EXPECT_EQ(Drain("", port, true).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Drain("Bearer nope", port, false).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  const std::string bearer = absl::StrCat("Bearer ", kToken);
  ASSERT_TRUE(Drain(bearer, port, true).ok());
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::StatusResponse status;
  ASSERT_TRUE(stub_->Status(&context, v1::StatusRequest(), &status).ok());
  EXPECT_EQ(status.disabled(), 1u);
  EXPECT_EQ(Drain(bearer, 1, true).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(Drain(bearer, port, false).ok());
  EXPECT_EQ(server_.manager()->Stats().disabled, 0u);
}

TEST_F(AdminTest, SetPoolNeedsTheAdminTokenAndAValidPool) {
  const PortRange pool = server_.pool();
  auto set_pool = [this](const std::string& token, const std::string& ranges,
                         v1::SetPoolResponse* response) {
    grpc::ClientContext context;
    SetDeadline(&context);
    if (!token.empty()) context.AddMetadata("authorization", token);
    v1::SetPoolRequest request;
    request.set_pool(ranges);
    return stub_->SetPool(&context, request, response);
  };
  const std::string smaller = absl::StrCat(pool.lo, "-", pool.lo + 3);
  v1::SetPoolResponse response;
  for (const std::string& bad :
       {std::string(), std::string("Bearer wrong"), std::string(kToken)}) {
    grpc::Status status = set_pool(bad, smaller, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << bad;
    EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr(kToken)));
  }
  const uint32_t before = server_.manager()->Stats().pool_size;
  EXPECT_EQ(before, pool.size());
  const std::string bearer = absl::StrCat("Bearer ", kToken);
  for (const std::string& invalid :
       {std::string(""), std::string("1-2-3"), std::string("9-8"),
        std::string("6379"), absl::StrCat(pool.lo, "-", pool.hi, ",", pool.lo)}) {
    grpc::Status status = set_pool(bearer, invalid, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << invalid;
  }
  EXPECT_EQ(server_.manager()->Stats().pool_size, before);
  grpc::Status ok = set_pool(bearer, smaller, &response);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(response.pool(), smaller);
  EXPECT_EQ(response.pool_size(), 4u);
  EXPECT_EQ(response.leases_outside_pool(), 0u);
  EXPECT_FALSE(response.persisted());
  EXPECT_EQ(server_.manager()->Stats().pool_size, 4u);
}

TEST(AdminWithoutTokenTest, AdminRpcsAreRefusedWhenNoTokenIsConfigured) {
  TestServer server({});
  auto stub = server.NewStub();
  grpc::ClientContext context;
  SetDeadline(&context);
  context.AddMetadata("authorization", "Bearer ");
  v1::DrainPortRequest request;
  request.set_port(server.pool().lo);
  v1::DrainPortResponse response;
  grpc::Status status = stub->DrainPort(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("--admin-token-file"));
}

TEST(LimitsTest, MaxPortsPerLease) {
  TestServer server(Options(nullptr, nullptr, Transport::kUnix, 128));
  grpc::Status status = Acquire(server.NewStub().get(), Count(65));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("at most 64"));
}

TEST(LimitsTest, MaxLiveLeasesPerOwner) {
  TestServer server(Options(nullptr, [](LeaseManagerOptions* o) {
    o->max_leases_per_owner = 3;
  }));
  auto stub = server.NewStub();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Acquire(stub.get(), Count(1)).ok());
  grpc::Status status = Acquire(stub.get(), Count(1));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(),
              HasSubstr(absl::StrCat("uid:", getuid(), " already holds 3")));
  v1::AcquireRequest wait = Count(1);
  wait.set_wait(true);
  EXPECT_EQ(Acquire(stub.get(), wait).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

// The limit counts the caller the transport proved: a CI_JOB_ID of the
// client's choosing per request does not buy more leases.
TEST(LimitsTest, MaxLiveLeasesPerOwnerOverTcpIgnoresCiJobId) {
  TestServer server(Options(
      nullptr, [](LeaseManagerOptions* o) { o->max_leases_per_owner = 2; },
      Transport::kTcp));
  auto stub = server.NewStub();
  for (int i = 0; i < 3; ++i) {
    v1::AcquireRequest request = Count(1);
    (*request.mutable_owner())["CI_JOB_ID"] = absl::StrCat("job-", i);
    grpc::Status status = Acquire(stub.get(), request);
    if (i < 2) {
      EXPECT_TRUE(status.ok()) << status.error_message();
      continue;
    }
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_THAT(status.error_message(),
                HasSubstr("caller addr:loopback already holds 2"));
  }
}

TEST(LimitsTest, MaxWaiters) {
  TestServer server(Options(
      nullptr, [](LeaseManagerOptions* o) { o->max_waiters = 0; },
      Transport::kUnix, 4));
  auto stub = server.NewStub();
  ASSERT_TRUE(Acquire(stub.get(), Count(4)).ok());
  v1::AcquireRequest wait = Count(1);
  wait.set_wait(true);
  grpc::Status status = Acquire(stub.get(), wait);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("too many waiting requests"));
}

TEST(LimitsTest, MaxMessageSize) {
  TestServer server(Options(
      [](ServerOptions* o) { o->max_receive_message_bytes = 4096; }));
  v1::AcquireRequest request = Count(1);
  (*request.mutable_owner())["blob"] = std::string(8192, 'x');
  grpc::Status status = Acquire(server.NewStub().get(), request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST(LimitsTest, RequestRatePerCaller) {
  TestServer server(Options([](ServerOptions* o) {
    o->rate_limit.per_second = 0.001;  // no refill within the test
    o->rate_limit.burst = 5;
  }));
  auto stub = server.NewStub();
  for (int i = 0; i < 5; ++i) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::StatusResponse response;
    ASSERT_TRUE(stub->Status(&context, v1::StatusRequest(), &response).ok());
  }
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::StatusResponse response;
  grpc::Status status = stub->Status(&context, v1::StatusRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(),
              HasSubstr(absl::StrCat("too many requests from uid:", getuid())));
}

TEST(TransportTest, PlaintextTcpBeyondLoopbackIsRefused) {
  ListenAddress any = *ParseListenAddress("0.0.0.0:7700");
  absl::Status refused = CheckTransportSecurity(any, false, false);
  EXPECT_TRUE(absl::IsInvalidArgument(refused));
  EXPECT_THAT(refused.message(), HasSubstr("--tls-cert"));
  EXPECT_TRUE(CheckTransportSecurity(any, true, false).ok());
  EXPECT_TRUE(CheckTransportSecurity(any, false, true).ok());
  EXPECT_TRUE(
      CheckTransportSecurity(*ParseListenAddress("[::1]:0"), false, false).ok());
  EXPECT_TRUE(CheckTransportSecurity(*ParseListenAddress("unix:/x/y"), false,
                                     false)
                  .ok());
}

}  // namespace
}  // namespace portlease
