// ScopedLease against a real portleased.
#include <atomic>
#include <memory>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "portlease/client.h"
#include "portlease/lease_env.h"
#include "portlease/scoped_lease.h"
#include "tests/client/test_support.h"
#include "tests/support/test_ports.h"

namespace portlease::testing {
namespace {

class ScopedLeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start(dir_.path(), {"--pool", "20000-20007"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    client_ = std::make_shared<Client>(server_->address());
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::shared_ptr<Client> client_;
};

TEST_F(ScopedLeaseTest, PortsByNameRenewalAndReleaseOnDestruction) {
  ScopedLeaseOptions options;
  options.spec.names = {"redis", "worker"};
  options.spec.ttl = absl::Seconds(1);
  auto lease = ScopedLease::Acquire(client_, options);
  ASSERT_TRUE(lease.ok()) << lease.status();
  const uint16_t redis = (*lease)->Port("redis").value();
  EXPECT_EQ((*lease)->Port("worker"), redis + 1);
  EXPECT_EQ((*lease)->Port("nope"), std::nullopt);
  EXPECT_EQ((*lease)->lease().owner().count("pid_start"), 1u);
  // On the Unix socket the server names the user (the client looks up none).
  EXPECT_EQ((*lease)->lease().owner().at("user"),
            (*lease)->lease().owner().at("peer_user"));
  auto env = (*lease)->Environment(nullptr, ProcessEnvironment(), "/w");
  ASSERT_TRUE(env.ok());
  EXPECT_EQ((*env)[0].first, "REDIS_PORT");
  // Outlives its 1 s ttl thanks to renewals.
  absl::SleepFor(absl::Milliseconds(1500));
  EXPECT_TRUE((*lease)->status().ok());
  EXPECT_TRUE(client_->Get((*lease)->id()).ok());
  lease->reset();
  EXPECT_EQ(client_->List()->size(), 0u);
}

TEST_F(ScopedLeaseTest, ReportsLossWhenRenewFindsNothing) {
  std::atomic<bool> lost{false};
  ScopedLeaseOptions options;
  options.spec.count = 1;
  options.spec.ttl = absl::Seconds(3);
  options.on_lost = [&lost](const absl::Status& status) {
    EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
    lost = true;
  };
  auto lease = ScopedLease::Acquire(client_, options);
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(client_->Release((*lease)->id()).ok());
  EXPECT_TRUE(PollUntil([&] { return lost.load(); }, absl::Seconds(5)));
  EXPECT_EQ((*lease)->status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ScopedLeaseTest, DestructorIsBoundedWhenTheServerIsGone) {
  ScopedLeaseOptions options;
  options.spec.count = 1;
  options.spec.ttl = absl::Seconds(30);
  auto lease = ScopedLease::Acquire(client_, options);
  ASSERT_TRUE(lease.ok());
  server_.reset();
  const absl::Time start = absl::Now();
  lease->reset();
  // Release's deadline (1 s) and the threads' stop, with room for a slow
  // build.
  EXPECT_LT(absl::Now() - start, Scaled(absl::Seconds(3)));
}

}  // namespace
}  // namespace portlease::testing
