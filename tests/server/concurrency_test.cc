// Many clients acquiring, renewing and releasing at once against one real
// server: no port may ever be granted while another live lease holds it.
//
// Each client records its lease in a shared client-side live set right
// after the grant, and removes it before sending Release, so whenever the
// server grants a port, every earlier holder of it has already left the
// set: a granted port found in the set is a double grant.
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/server/test_util.h"

namespace portlease {
namespace {

struct Grant {
  std::string lease_prefix;
  uint32_t base = 0;
  uint32_t count = 0;
  absl::Time granted;
  absl::Time released = absl::InfiniteFuture();
};

class Ledger {
 public:
  // Records a grant; returns the ports that were already live.
  std::vector<uint32_t> Granted(const std::string& id, uint32_t base,
                                uint32_t count) {
    absl::MutexLock lock(&mu_);
    std::vector<uint32_t> clashes;
    for (uint32_t p = base; p < base + count; ++p) {
      if (!live_.emplace(p, id).second) clashes.push_back(p);
    }
    index_[id] = grants_.size();
    grants_.push_back({id.substr(0, 8), base, count, absl::Now()});
    return clashes;
  }
  void Releasing(const std::string& id) {
    absl::MutexLock lock(&mu_);
    Grant& grant = grants_[index_.at(id)];
    grant.released = absl::Now();
    for (uint32_t p = grant.base; p < grant.base + grant.count; ++p) {
      auto it = live_.find(p);
      if (it != live_.end() && it->second == id) live_.erase(it);
    }
  }
  std::vector<Grant> grants() {
    absl::MutexLock lock(&mu_);
    return grants_;
  }

 private:
  absl::Mutex mu_;
  std::map<uint32_t, std::string> live_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, size_t> index_ ABSL_GUARDED_BY(mu_);
  std::vector<Grant> grants_ ABSL_GUARDED_BY(mu_);
};

TEST(ConcurrencyTest, NoPortIsEverGrantedTwice) {
  TestServer::Options options;
  options.pool_size = 96;  // small enough for contention and exhaustion
  TestServer server(options);
  Ledger ledger;
  absl::Mutex mu;
  std::vector<std::string> violations;
  int exhausted = 0;
  int errors = 0;
  const absl::Time end = absl::Now() + absl::Seconds(3);

  auto client = [&](int seed) {
    auto stub = server.NewStub();
    std::mt19937 random(seed);
    std::vector<std::string> held;
    while (absl::Now() < end) {
      const int action = std::uniform_int_distribution<int>(0, 9)(random);
      if (held.empty() || action < 4) {
        grpc::ClientContext context;
        SetDeadline(&context);
        v1::AcquireRequest request;
        request.set_count(std::uniform_int_distribution<int>(1, 5)(random));
        request.mutable_ttl()->set_seconds(60);
        v1::AcquireResponse response;
        grpc::Status status = stub->Acquire(&context, request, &response);
        if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
          absl::MutexLock lock(&mu);
          ++exhausted;
        } else if (!status.ok()) {
          absl::MutexLock lock(&mu);
          ++errors;
          violations.push_back("acquire: " + status.error_message());
        } else {
          const v1::Lease& lease = response.lease();
          std::vector<uint32_t> clashes = ledger.Granted(
              lease.lease_id(), lease.base_port(), lease.count());
          if (!clashes.empty()) {
            absl::MutexLock lock(&mu);
            violations.push_back("port " + std::to_string(clashes[0]) +
                                 " granted while live");
          }
          held.push_back(lease.lease_id());
        }
      } else if (action < 6) {
        grpc::ClientContext context;
        SetDeadline(&context);
        v1::RenewRequest request;
        request.set_lease_id(held[random() % held.size()]);
        v1::RenewResponse response;
        if (!stub->Renew(&context, request, &response).ok()) {
          absl::MutexLock lock(&mu);
          ++errors;
        }
      } else {
        const size_t i = random() % held.size();
        const std::string id = held[i];
        held.erase(held.begin() + i);
        ledger.Releasing(id);
        grpc::ClientContext context;
        SetDeadline(&context);
        v1::ReleaseRequest request;
        request.set_lease_id(id);
        v1::ReleaseResponse response;
        if (!stub->Release(&context, request, &response).ok()) {
          absl::MutexLock lock(&mu);
          ++errors;
        }
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 32; ++i) threads.emplace_back(client, 1000 + i);
  for (std::thread& t : threads) t.join();

  const std::vector<Grant> grants = ledger.grants();
  absl::MutexLock lock(&mu);
  EXPECT_TRUE(violations.empty())
      << violations.size() << " violations, first: " << violations.front();
  EXPECT_EQ(errors, 0);
  // The run did real work and hit the pool's limit.
  EXPECT_GT(grants.size(), 100u);
  RecordProperty("grants", static_cast<int>(grants.size()));
  RecordProperty("exhausted", exhausted);
  // Offline check of the same property on the recorded intervals.
  std::map<uint32_t, std::vector<const Grant*>> by_port;
  for (const Grant& g : grants) {
    for (uint32_t p = g.base; p < g.base + g.count; ++p)
      by_port[p].push_back(&g);
  }
  int overlaps = 0;
  for (const auto& [port, list] : by_port) {
    for (size_t i = 1; i < list.size(); ++i) {
      // Grants are recorded in order; each must start after the previous
      // holder of the port started releasing.
      if (list[i]->granted < list[i - 1]->released) ++overlaps;
    }
  }
  EXPECT_EQ(overlaps, 0);
}

}  // namespace
}  // namespace portlease
