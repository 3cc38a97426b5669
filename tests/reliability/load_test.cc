// Hostile and heavy traffic against the real portleased: oversized requests
// are refused without memory growth, and 500 waiting clients on an
// exhausted pool are served in FIFO order with bounded server memory.
#include <signal.h>
#include <sys/types.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "portlease/v1/portlease.grpc.pb.h"
#include "tests/server/daemon_process.h"
#include "tests/server/test_util.h"

namespace portlease {
namespace {

constexpr char kBinary[] = PORTLEASED_PATH;
// portleased's default --max_message_bytes: larger requests are refused
// with RESOURCE_EXHAUSTED before they are parsed.
constexpr size_t kMaxMessageBytes = 64 * 1024;

// VmRSS of `pid` in KiB; -1 when unreadable.
int64_t VmRssKib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "VmRSS:")) continue;
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, "kB");
    int64_t kib = -1;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &kib)) return kib;
  }
  return -1;
}

class ServerUnderLoadTest : public ::testing::Test {
 protected:
  void Start(uint32_t pool_size) {
    const PortRange pool = TestPoolRange(pool_size);
    absl::StatusOr<DaemonProcess> daemon = DaemonProcess::Start(
        kBinary,
        {"--listen=unix:" + dir_.File("portleased.sock"), "--db=:memory:",
         absl::StrCat("--pool=", pool.lo, "-", pool.hi), "--probe=none",
         "--cooldown=0s",
         // Every request here comes from one process: per-caller rate
         // limits are not what these tests are about.
         "--rate_limit=0"},
        dir_.File("stderr"));
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    ASSERT_TRUE(daemon->ready()) << daemon->Stderr();
    daemon_ = std::make_unique<DaemonProcess>(*std::move(daemon));
    channel_ = grpc::CreateChannel(daemon_->addresses()[0],
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::PortLease::NewStub(channel_);
  }

  grpc::Status Acquire(const v1::AcquireRequest& request,
                       v1::AcquireResponse* response = nullptr) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::AcquireResponse ignored;
    return stub_->Acquire(&context, request,
                          response != nullptr ? response : &ignored);
  }

  v1::StatusResponse PoolStatus() {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::StatusResponse response;
    grpc::Status status = stub_->Status(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  grpc::Status Release(const std::string& id) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::ReleaseRequest request;
    request.set_lease_id(id);
    v1::ReleaseResponse response;
    return stub_->Release(&context, request, &response);
  }

  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PortLease::Stub> stub_;
};

TEST_F(ServerUnderLoadTest, OversizedRequestsAreRefusedWithoutMemoryGrowth) {
  Start(64);
  struct Case {
    const char* what;
    v1::AcquireRequest request;
    grpc::StatusCode expected;
  };
  std::vector<Case> cases;
  {
    Case c{"huge count", {}, grpc::StatusCode::INVALID_ARGUMENT};
    c.request.set_count(4'000'000'000u);
    cases.push_back(c);
  }
  {
    Case c{"10,000 names", {}, grpc::StatusCode::INVALID_ARGUMENT};
    for (int i = 0; i < 10'000; ++i) c.request.add_names(absl::StrCat("n", i));
    c.request.set_wait(true);  // must not queue either
    cases.push_back(c);
  }
  {
    Case c{"a 100 KB name", {}, grpc::StatusCode::INVALID_ARGUMENT};
    c.request.add_names(std::string(100'000, 'a'));
    cases.push_back(c);
  }
  {
    Case c{"10,000 owner entries", {}, grpc::StatusCode::INVALID_ARGUMENT};
    c.request.set_count(1);
    for (int i = 0; i < 10'000; ++i) {
      (*c.request.mutable_owner())[absl::StrCat("key", i)] = "v";
    }
    cases.push_back(c);
  }
  {
    Case c{"a 1 MB owner value", {}, grpc::StatusCode::INVALID_ARGUMENT};
    c.request.set_count(1);
    (*c.request.mutable_owner())["command"] = std::string(1 << 20, 'x');
    cases.push_back(c);
  }
  {
    Case c{"a 1 MB request_id", {}, grpc::StatusCode::INVALID_ARGUMENT};
    c.request.set_count(1);
    c.request.set_request_id(std::string(1 << 20, 'r'));
    cases.push_back(c);
  }
  {
    Case c{"a ttl of 30,000 years", {}, grpc::StatusCode::INVALID_ARGUMENT};
    c.request.set_count(1);
    c.request.mutable_ttl()->set_seconds(int64_t{1} << 40);
    cases.push_back(c);
  }
  // The same limits, in messages small enough to reach validation.
  {
    Case c{"1,000 names", {}, grpc::StatusCode::INVALID_ARGUMENT};
    for (int i = 0; i < 1'000; ++i) c.request.add_names(absl::StrCat("n", i));
    cases.push_back(c);
  }
  {
    Case c{"1,000 owner entries", {}, grpc::StatusCode::INVALID_ARGUMENT};
    c.request.set_count(1);
    for (int i = 0; i < 1'000; ++i) {
      (*c.request.mutable_owner())[absl::StrCat("k", i)] = "v";
    }
    cases.push_back(c);
  }
  {
    Case c{"a 32 KB owner value", {}, grpc::StatusCode::INVALID_ARGUMENT};
    c.request.set_count(1);
    (*c.request.mutable_owner())["command"] = std::string(32 << 10, 'x');
    cases.push_back(c);
  }
  {
    Case c{"a 10 KB request_id", {}, grpc::StatusCode::INVALID_ARGUMENT};
    c.request.set_count(1);
    c.request.set_request_id(std::string(10'000, 'r'));
    cases.push_back(c);
  }
  {
    Case c{"a 5 MB message", {}, grpc::StatusCode::RESOURCE_EXHAUSTED};
    c.request.set_count(1);
    (*c.request.mutable_owner())["blob"] = std::string(5 << 20, 'b');
    cases.push_back(c);
  }

  for (Case& c : cases) {
    if (c.request.ByteSizeLong() > kMaxMessageBytes) {
      c.expected = grpc::StatusCode::RESOURCE_EXHAUSTED;
    }
  }
  // One round first, so that gRPC's buffers and the allocator's arenas are
  // warm; then the growth over many rounds must stay small.
  for (const Case& c : cases) {
    grpc::Status status = Acquire(c.request);
    EXPECT_EQ(status.error_code(), c.expected)
        << c.what << ": " << status.error_message();
    std::printf("%-22s -> %d %s\n", c.what, status.error_code(),
                status.error_message().substr(0, 100).c_str());
  }
  const int64_t before = VmRssKib(daemon_->pid());
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    for (const Case& c : cases) {
      EXPECT_EQ(Acquire(c.request).error_code(), c.expected) << c.what;
    }
  }
  const int64_t after = VmRssKib(daemon_->pid());
  std::printf("oversized requests: %d rounds of %zu; server VmRSS %lld KiB -> "
              "%lld KiB\n",
              kRounds, cases.size(), static_cast<long long>(before),
              static_cast<long long>(after));
  ASSERT_GT(before, 0);
#if defined(__SANITIZE_ADDRESS__)
  // ASan keeps freed memory in its quarantine (256 MB by default), so RSS
  // says nothing about leaks here; the release build checks it.
#else
  EXPECT_LT(after - before, 32 * 1024) << "server memory grew";
#endif
  v1::StatusResponse pool = PoolStatus();
  EXPECT_EQ(pool.live_leases(), 0u);
  EXPECT_EQ(pool.waiters(), 0u);
}

// 500 clients wait (wait=true, long deadlines) on a one-port pool. Each
// release hands the port to exactly one waiter, which must be the one that
// queued first; none starves, and server memory stays bounded.
TEST_F(ServerUnderLoadTest, FiveHundredWaitersAreServedFifo) {
  constexpr int kWaiters = 500;
  Start(1);
  v1::AcquireRequest one;
  one.set_count(1);
  v1::AcquireResponse holder;
  ASSERT_TRUE(Acquire(one, &holder).ok());
  const int64_t rss_idle = VmRssKib(daemon_->pid());

  struct Call {
    grpc::ClientContext context;
    v1::AcquireRequest request;
    v1::AcquireResponse response;
  };
  absl::Mutex mu;
  std::vector<std::pair<int, grpc::Status>> served;  // guarded by mu
  std::vector<std::unique_ptr<Call>> calls;
  // Several connections, like several client processes.
  std::vector<std::unique_ptr<v1::PortLease::Stub>> stubs;
  for (int i = 0; i < 10; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("portlease.test.connection", i);  // a channel of its own
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    stubs.push_back(v1::PortLease::NewStub(grpc::CreateCustomChannel(
        daemon_->addresses()[0], grpc::InsecureChannelCredentials(), args)));
  }
  // On any early return, end the calls before what they point to goes.
  absl::Cleanup drain = [&] {
    for (auto& call : calls) call->context.TryCancel();
    PollUntil([&] {
      absl::MutexLock lock(&mu);
      return served.size() == calls.size();
    }, absl::Seconds(10));
  };
  const absl::Time enqueue_start = absl::Now();
  for (int i = 0; i < kWaiters; ++i) {
    auto call = std::make_unique<Call>();
    call->context.set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
    call->request.set_count(1);
    call->request.set_wait(true);
    call->request.set_request_id(absl::StrCat("waiter-", i));
    (*call->request.mutable_owner())["seq"] = absl::StrCat(i);
    Call* raw = call.get();
    calls.push_back(std::move(call));
    stubs[i % stubs.size()]->async()->Acquire(
        &raw->context, &raw->request, &raw->response,
        [&mu, &served, i](grpc::Status status) {
          absl::MutexLock lock(&mu);
          served.emplace_back(i, std::move(status));
        });
    // Queue strictly in order: the next request goes out once the server
    // counts this one as waiting.
    ASSERT_TRUE(PollUntil([&] { return PoolStatus().waiters() == uint32_t(i + 1); },
                          absl::Seconds(10)))
        << "waiter " << i << " not queued";
  }
  const absl::Duration enqueue_time = absl::Now() - enqueue_start;
  const int64_t rss_queued = VmRssKib(daemon_->pid());

  // Hand the port down the queue.
  const absl::Time serve_start = absl::Now();
  std::string to_release = holder.lease().lease_id();
  for (int next = 0; next < kWaiters; ++next) {
    ASSERT_TRUE(Release(to_release).ok());
    ASSERT_TRUE(PollUntil(
        [&] {
          absl::MutexLock lock(&mu);
          return served.size() == size_t(next + 1);
        },
        absl::Seconds(10)))
        << "nobody served after release " << next;
    absl::MutexLock lock(&mu);
    ASSERT_EQ(served.back().first, next) << "served out of FIFO order";
    ASSERT_TRUE(served.back().second.ok()) << served.back().second.error_message();
    const v1::Lease& lease = calls[next]->response.lease();
    ASSERT_EQ(lease.owner().at("seq"), absl::StrCat(next));
    to_release = lease.lease_id();
  }
  const absl::Duration serve_time = absl::Now() - serve_start;
  ASSERT_TRUE(Release(to_release).ok());
  const int64_t rss_done = VmRssKib(daemon_->pid());
  std::printf(
      "%d waiters: queued in %s, served FIFO in %s; server VmRSS idle=%lld "
      "KiB queued=%lld KiB done=%lld KiB\n",
      kWaiters, absl::FormatDuration(enqueue_time).c_str(),
      absl::FormatDuration(serve_time).c_str(),
      static_cast<long long>(rss_idle), static_cast<long long>(rss_queued),
      static_cast<long long>(rss_done));
  EXPECT_EQ(PoolStatus().waiters(), 0u);
  // Each waiting call costs the server some kilobytes, not megabytes.
  EXPECT_LT(rss_queued - rss_idle, 64 * 1024);
  EXPECT_LT(rss_done - rss_idle, 64 * 1024);
}

}  // namespace
}  // namespace portlease
