// What the etcd client tests share: a cluster per test (skipped without
// etcd) and a client of its members.
#ifndef PORTLEASE_TESTS_SERVER_ETCD_ETCD_TEST_UTIL_H_
#define PORTLEASE_TESTS_SERVER_ETCD_ETCD_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/etcd/etcd_client.h"
#include "tests/support/etcd_cluster.h"

namespace portlease::etcd {

inline std::unique_ptr<EtcdClient> MakeClient(std::vector<std::string> endpoints,
                                              absl::Duration call_timeout) {
  EtcdOptions options;
  options.endpoints = std::move(endpoints);
  options.call_timeout = testing::Scaled(call_timeout);
  absl::StatusOr<std::unique_ptr<EtcdClient>> client = EtcdClient::Connect(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

// A fresh cluster of kMembers for each test, and a client of all of them.
template <size_t kMembers>
class EtcdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::EtcdCluster::Installed()) {
      GTEST_SKIP() << testing::EtcdCluster::NotInstalledMessage();
    }
    absl::StatusOr<std::unique_ptr<testing::EtcdCluster>> cluster =
        testing::EtcdCluster::Start(kMembers);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    client_ = MakeClient(cluster_->endpoints(), absl::Seconds(5));
    ASSERT_NE(client_, nullptr);
  }

  std::unique_ptr<testing::EtcdCluster> cluster_;
  std::unique_ptr<EtcdClient> client_;
};

}  // namespace portlease::etcd

#endif  // PORTLEASE_TESTS_SERVER_ETCD_ETCD_TEST_UTIL_H_
