// What the replicated backend's tests share: backends over real etcd
// members (tests/support/etcd_cluster.h), each with its own client.
#ifndef PORTLEASE_TESTS_SERVER_REPLICATED_REPLICATED_TEST_UTIL_H_
#define PORTLEASE_TESTS_SERVER_REPLICATED_REPLICATED_TEST_UTIL_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/core/clock.h"
#include "server/etcd/etcd_client.h"
#include "server/replicated/etcd_lease_backend.h"
#include "tests/server/etcd/etcd_test_util.h"
#include "tests/support/etcd_cluster.h"

namespace portlease::replicated {

// The pool's ports are only numbers in etcd here: nothing binds them.
inline EtcdLeaseBackendOptions TestOptions(PortRange pool) {
  EtcdLeaseBackendOptions options;
  options.rules.pool = {pool};
  options.rules.hold_grace = absl::Seconds(2);
  options.quarantine = absl::Seconds(1);
  options.prefix = "/test/";
  return options;
}

// One backend with its own etcd client, as one replica would have.
struct Replica {
  std::unique_ptr<etcd::EtcdClient> client;
  std::unique_ptr<EtcdLeaseBackend> backend;
};

inline Replica MakeReplica(const std::vector<std::string>& endpoints,
                           const EtcdLeaseBackendOptions& options, Clock* clock,
                           absl::Duration call_timeout = absl::Seconds(5)) {
  Replica replica;
  replica.client = etcd::MakeClient(endpoints, call_timeout);
  if (replica.client == nullptr) return replica;
  absl::StatusOr<std::unique_ptr<EtcdLeaseBackend>> backend =
      EtcdLeaseBackend::Create(options, clock, replica.client.get());
  EXPECT_TRUE(backend.ok()) << backend.status();
  if (backend.ok()) replica.backend = *std::move(backend);
  return replica;
}

inline AcquireParams Ask(uint32_t count, std::string caller,
                         absl::Duration ttl = absl::Seconds(30)) {
  AcquireParams params;
  params.count = count;
  params.ttl = ttl;
  params.caller = Principal{std::move(caller), ""};
  return params;
}

// A fresh cluster of kMembers per test (skipped without etcd).
template <size_t kMembers>
class ReplicatedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::EtcdCluster::Installed()) {
      GTEST_SKIP() << testing::EtcdCluster::NotInstalledMessage();
    }
    absl::StatusOr<std::unique_ptr<testing::EtcdCluster>> cluster =
        testing::EtcdCluster::Start(kMembers);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
  }

  RealClock clock_;
  std::unique_ptr<testing::EtcdCluster> cluster_;
};

}  // namespace portlease::replicated

#endif  // PORTLEASE_TESTS_SERVER_REPLICATED_REPLICATED_TEST_UTIL_H_
