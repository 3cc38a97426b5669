// The running server beyond the unary lease RPCs: Hold streams, health,
// Status, Who, binding errors and shutdown.
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/service/convert.h"
#include "tests/server/test_util.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

v1::Lease MustAcquire(v1::PortLease::Stub* stub, uint32_t count,
                      absl::Duration ttl = absl::Seconds(60)) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::AcquireRequest request;
  request.set_count(count);
  DurationToProto(ttl, request.mutable_ttl());
  v1::AcquireResponse response;
  grpc::Status status = stub->Acquire(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.lease();
}

grpc::StatusCode GetCode(v1::PortLease::Stub* stub, const std::string& id) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::GetRequest request;
  request.set_lease_id(id);
  v1::GetResponse response;
  return stub->Get(&context, request, &response).error_code();
}

TestServer::Options WithGrace(Transport transport, absl::Duration grace) {
  TestServer::Options options;
  options.transport = transport;
  options.configure = [grace](LeaseManagerOptions* o) {
    o->hold_grace = grace;
  };
  return options;
}

class HoldTest : public ::testing::TestWithParam<Transport> {};

// A stream is no way around the rate limit: each of its messages is a
// request.
TEST_P(HoldTest, EveryMessageCountsAgainstTheRateLimit) {
  TestServer::Options options = WithGrace(GetParam(), absl::Seconds(2));
  options.configure_server = [](ServerOptions* o) {
    o->rate_limit.per_second = 0.01;
    o->rate_limit.burst = 4;
  };
  TestServer server(options);
  auto stub = server.NewStub();
  v1::Lease lease = MustAcquire(stub.get(), 1);  // one token
  grpc::ClientContext context;
  SetDeadline(&context);
  auto stream = stub->Hold(&context);  // one token
  v1::HoldRequest request;
  request.set_lease_id(lease.lease_id());
  v1::HoldResponse response;
  int answered = 0;
  for (int i = 0; i < 50; ++i) {
    if (!stream->Write(request) || !stream->Read(&response)) break;
    ++answered;
  }
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  // The first message rides on the stream's token; two more fit the burst.
  EXPECT_EQ(answered, 3);
}

// --max-streams: calls beyond it on one connection wait for a stream to end.
TEST_P(HoldTest, CallsBeyondMaxStreamsWaitForAStream) {
  TestServer::Options options = WithGrace(GetParam(), absl::Seconds(2));
  options.configure_server = [](ServerOptions* o) { o->max_streams = 1; };
  TestServer server(options);
  auto stub = v1::PortLease::NewStub(server.NewChannel());
  v1::Lease lease = MustAcquire(stub.get(), 1);
  grpc::ClientContext hold_context;
  SetDeadline(&hold_context);
  auto stream = stub->Hold(&hold_context);
  v1::HoldRequest request;
  request.set_lease_id(lease.lease_id());
  v1::HoldResponse response;
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));  // the stream is open and attached

  auto status_call = [&stub](absl::Duration timeout) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    v1::StatusResponse status;
    return stub->Status(&context, v1::StatusRequest(), &status).error_code();
  };
  EXPECT_EQ(status_call(absl::Milliseconds(500)),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  stream->WritesDone();
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(status_call(absl::Seconds(10)), grpc::StatusCode::OK);
}

TEST_P(HoldTest, AnswersEveryRequestWithTheExpiry) {
  TestServer server(WithGrace(GetParam(), absl::Milliseconds(200)));
  auto stub = server.NewStub();
  v1::Lease lease = MustAcquire(stub.get(), 2);
  grpc::ClientContext context;
  SetDeadline(&context);
  auto stream = stub->Hold(&context);
  v1::HoldRequest request;
  request.set_lease_id(lease.lease_id());
  v1::HoldResponse response;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(stream->Write(request));
    ASSERT_TRUE(stream->Read(&response));
    EXPECT_EQ(TimeFromProto(response.expires_at()),
              TimeFromProto(lease.expires_at()));
    request.clear_lease_id();  // only the first one names the lease
  }
  stream->WritesDone();
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_P(HoldTest, BrokenStreamFreesTheLeaseAfterTheGrace) {
  TestServer server(WithGrace(GetParam(), absl::Milliseconds(200)));
  auto stub = server.NewStub();
  v1::Lease lease = MustAcquire(stub.get(), 3);
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    auto stream = stub->Hold(&context);
    v1::HoldRequest request;
    request.set_lease_id(lease.lease_id());
    v1::HoldResponse response;
    ASSERT_TRUE(stream->Write(request));
    ASSERT_TRUE(stream->Read(&response));
    context.TryCancel();
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  EXPECT_TRUE(PollUntil([&] {
    return GetCode(stub.get(), lease.lease_id()) == grpc::StatusCode::NOT_FOUND;
  }, absl::Seconds(10)));
}

TEST_P(HoldTest, DestroyedChannelFreesTheLeaseAfterTheGrace) {
  TestServer server(WithGrace(GetParam(), absl::Milliseconds(200)));
  auto stub = server.NewStub();
  v1::Lease lease = MustAcquire(stub.get(), 1);
  {
    auto holder_stub = server.NewStub();
    auto context = std::make_unique<grpc::ClientContext>();
    SetDeadline(context.get(), absl::Seconds(60));
    auto stream = holder_stub->Hold(context.get());
    v1::HoldRequest request;
    request.set_lease_id(lease.lease_id());
    v1::HoldResponse response;
    ASSERT_TRUE(stream->Write(request));
    ASSERT_TRUE(stream->Read(&response));
    // Dropping the stream without finishing it cancels the call; then the
    // stub and its channel go.
    stream.reset();
    context.reset();
    holder_stub.reset();
  }
  EXPECT_TRUE(PollUntil([&] {
    return GetCode(stub.get(), lease.lease_id()) == grpc::StatusCode::NOT_FOUND;
  }, absl::Seconds(10)));
}

TEST_P(HoldTest, HeldLeaseOutlivesTheGraceWhileTheStreamIsOpen) {
  TestServer server(WithGrace(GetParam(), absl::Milliseconds(50)));
  auto stub = server.NewStub();
  v1::Lease lease = MustAcquire(stub.get(), 1);
  grpc::ClientContext context;
  SetDeadline(&context);
  auto stream = stub->Hold(&context);
  v1::HoldRequest request;
  request.set_lease_id(lease.lease_id());
  v1::HoldResponse response;
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  // Several graces and ticks later the lease is still there.
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(GetCode(stub.get(), lease.lease_id()), grpc::StatusCode::OK);
  context.TryCancel();
  stream->Finish();
}

TEST_P(HoldTest, ReleasedLeaseEndsTheStreamWithNotFound) {
  TestServer server(WithGrace(GetParam(), absl::Seconds(5)));
  auto stub = server.NewStub();
  v1::Lease lease = MustAcquire(stub.get(), 1);
  grpc::ClientContext context;
  SetDeadline(&context);
  auto stream = stub->Hold(&context);
  v1::HoldRequest request;
  request.set_lease_id(lease.lease_id());
  v1::HoldResponse response;
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  {
    grpc::ClientContext release_context;
    SetDeadline(&release_context);
    v1::ReleaseRequest release;
    release.set_lease_id(lease.lease_id());
    v1::ReleaseResponse ignored;
    ASSERT_TRUE(stub->Release(&release_context, release, &ignored).ok());
  }
  stream->Write(request);
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

INSTANTIATE_TEST_SUITE_P(Transports, HoldTest,
                         ::testing::Values(Transport::kUnix, Transport::kTcp),
                         [](const ::testing::TestParamInfo<Transport>& info) {
                           return info.param == Transport::kUnix ? "Unix"
                                                                 : "Tcp";
                         });

TEST(ServerTest, HealthIsServing) {
  for (Transport transport : {Transport::kUnix, Transport::kTcp}) {
    TestServer::Options options;
    options.transport = transport;
    TestServer server(options);
    auto health = grpc::health::v1::Health::NewStub(server.NewChannel());
    grpc::ClientContext context;
    SetDeadline(&context);
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(health->Check(&context, request, &response).ok());
    EXPECT_EQ(response.status(),
              grpc::health::v1::HealthCheckResponse::SERVING);
  }
}

TEST(ServerTest, StatusCountsThePool) {
  TestServer::Options options;
  options.pool_size = 16;
  TestServer server(options);
  auto stub = server.NewStub();
  MustAcquire(stub.get(), 4);
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::StatusResponse status;
  ASSERT_TRUE(stub->Status(&context, v1::StatusRequest(), &status).ok());
  EXPECT_EQ(status.pool_size(), 16u);
  EXPECT_EQ(status.leased(), 4u);
  EXPECT_EQ(status.free(), 12u);
  EXPECT_EQ(status.live_leases(), 1u);
  EXPECT_EQ(status.version(), "test");
}

TEST(ServerTest, WhoCombinesThePoolAndTheHolders) {
  TestServer::Options options;
  options.pool_size = 8;
  options.holders = [](absl::Span<const Port> ports) {
    std::vector<PortHolder> holders;
    for (Port port : ports) {
      PortHolder holder;
      holder.socket.local_port = port;
      holder.socket.local_address = "127.0.0.1";
      holder.socket.state = "LISTEN";
      holder.user = "ci";
      holder.processes = {{4242, "redis-server --port"}};
      holders.push_back(holder);
    }
    return holders;
  };
  TestServer server(options);
  auto stub = server.NewStub();
  v1::Lease lease = MustAcquire(stub.get(), 1);
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::WhoRequest request;
  request.add_ports(lease.base_port());
  request.add_ports(server.pool().lo == lease.base_port() ? server.pool().hi
                                                          : server.pool().lo);
  request.add_ports(1);
  v1::WhoResponse response;
  ASSERT_TRUE(stub->Who(&context, request, &response).ok());
  ASSERT_EQ(response.ports_size(), 3);
  const v1::PortInfo& leased = response.ports(0);
  EXPECT_EQ(leased.pool_state(), "leased");
  EXPECT_TRUE(leased.in_pool());
  EXPECT_EQ(leased.lease().lease_id(), "");
  EXPECT_EQ(leased.lease().lease_id_prefix(), lease.lease_id_prefix());
  ASSERT_EQ(leased.holders_size(), 1);
  EXPECT_EQ(leased.holders(0).pid(), 4242);
  EXPECT_EQ(leased.holders(0).command(), "redis-server --port");
  EXPECT_EQ(leased.holders(0).user(), "ci");
  EXPECT_EQ(leased.holders(0).protocol(), "tcp");
  EXPECT_EQ(leased.holders(0).state(), "LISTEN");
  EXPECT_EQ(response.ports(1).pool_state(), "free");
  EXPECT_FALSE(response.ports(2).in_pool());

  grpc::ClientContext bad_context;
  SetDeadline(&bad_context);
  v1::WhoRequest bad;
  bad.add_ports(70000);
  EXPECT_EQ(stub->Who(&bad_context, bad, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST(ServerTest, UnixSocketIsGroupOnly) {
  TestServer server(TestServer::Options{});
  struct stat st;
  const std::string path = server.address().substr(5);
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

// A raw connection to a Unix socket that has sent the HTTP/2 preface.
// Returns the descriptor (-1 on failure).
int ConnectRaw(const std::string& address) {
  const std::string path = address.substr(5);  // "unix:"
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa = {};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.data(), path.size());
  if (fd < 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  // The client preface and an empty SETTINGS frame.
  static constexpr char kPreface[] =
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";
  // MSG_NOSIGNAL: a connection already closed by the server is an answer,
  // not a SIGPIPE. Its error shows in Served().
  (void)send(fd, kPreface, sizeof(kPreface) - 1, MSG_NOSIGNAL);
  return fd;
}

// What the server does with a raw connection within 5 s: 1 when it talks
// (its SETTINGS frame), 0 when it closes the connection, -1 neither.
int Served(int fd) {
  pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, 5000) <= 0) return -1;
  char buf[64];
  const ssize_t n = recv(fd, buf, sizeof(buf), 0);
  // Closed with our preface unread: a reset rather than an end of file.
  if (n < 0 && (errno == ECONNRESET || errno == EPIPE)) return 0;
  return n > 0 ? 1 : n == 0 ? 0 : -1;
}

TEST(ServerTest, UnixConnectionsBeyondMaxConnectionsAreClosed) {
  TestServer::Options options;
  options.configure_server = [](ServerOptions* o) { o->max_connections = 2; };
  TestServer server(options);
  const int first = ConnectRaw(server.address());
  const int second = ConnectRaw(server.address());
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  EXPECT_EQ(Served(first), 1);
  EXPECT_EQ(Served(second), 1);
  const int third = ConnectRaw(server.address());
  ASSERT_GE(third, 0);
  EXPECT_EQ(Served(third), 0);  // closed at once: two are open
  close(third);
  // Once a connection closes, a new one is served again.
  close(first);
  int served = -1;
  for (int i = 0; i < 50 && served != 1; ++i) {
    const int next = ConnectRaw(server.address());
    ASSERT_GE(next, 0);
    served = Served(next);
    close(next);
    if (served != 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_EQ(served, 1);
  close(second);
}

TEST(ServerTest, AnAddressInUseFailsTheStart) {
  TestServer::Options options;
  options.transport = Transport::kTcp;
  TestServer first(options);
  ServerOptions second;
  second.listen = {first.address()};
  RealClock clock;
  second.service.manager = first.manager();
  second.service.clock = &clock;
  absl::StatusOr<std::unique_ptr<RunningServer>> server =
      StartServer(std::move(second));
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(server.status().message(), HasSubstr(first.address()));
}

TEST(ServerTest, MissingSocketDirectoryFailsTheStart) {
  TempDir dir;
  TestServer::Options options;
  TestServer first(options);
  ServerOptions bad;
  bad.listen = {"unix:" + dir.File("nope/portleased.sock")};
  RealClock clock;
  bad.service.manager = first.manager();
  bad.service.clock = &clock;
  absl::StatusOr<std::unique_ptr<RunningServer>> server =
      StartServer(std::move(bad));
  EXPECT_EQ(server.status().code(), absl::StatusCode::kNotFound);
}

TEST(ServerTest, ShutdownEndsOpenHoldsAndWaits) {
  TestServer::Options options;
  options.pool_size = 1;
  TestServer server(options);
  auto stub = server.NewStub();
  v1::Lease lease = MustAcquire(stub.get(), 1);
  grpc::ClientContext hold_context;
  SetDeadline(&hold_context, absl::Seconds(30));
  auto stream = stub->Hold(&hold_context);
  v1::HoldRequest request;
  request.set_lease_id(lease.lease_id());
  v1::HoldResponse response;
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  grpc::Status waited;
  grpc::ClientContext wait_context;
  SetDeadline(&wait_context, absl::Seconds(30));
  std::thread waiter([&] {
    v1::AcquireRequest wait;
    wait.set_count(1);
    wait.set_wait(true);
    v1::AcquireResponse ignored;
    waited = stub->Acquire(&wait_context, wait, &ignored);
  });
  EXPECT_TRUE(
      PollUntil([&] { return server.manager()->Stats().waiters == 1; }, absl::Seconds(10)));
  const absl::Time start = absl::Now();
  server.server()->Shutdown(absl::Milliseconds(100));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  waiter.join();
  EXPECT_FALSE(waited.ok());
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_FALSE(stream->Finish().ok());
}

}  // namespace
}  // namespace portlease
