// LeaseManagerTest: the fixture the lease_manager_*_test.cc files share (a
// 20-port pool, a fake clock, store and prober, and the events seen).
#ifndef PORTLEASE_SERVER_CORE_LEASE_MANAGER_TEST_FIXTURE_H_
#define PORTLEASE_SERVER_CORE_LEASE_MANAGER_TEST_FIXTURE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/fake_clock.h"
#include "server/core/fake_prober.h"
#include "server/core/fake_store.h"
#include "server/core/lease_manager.h"
#include "server/core/test_callers.h"

namespace portlease {

class LeaseManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.pool = {{20000, 20019}};
    options_.cooldown = absl::Seconds(30);
    options_.on_event = [this](const LeaseEvent& e) {
      events_.push_back(LeaseEventName(e.type));
    };
    Restart();
  }
  void Restart() {
    manager_.reset();
    auto m = LeaseManager::Create(options_, &clock_, &store_, &prober_);
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
  }
  static AcquireParams Named(std::vector<std::string> names) {
    AcquireParams p;
    p.names = std::move(names);
    p.caller = kAlice;
    return p;
  }
  static AcquireParams Counted(uint32_t count) {
    AcquireParams p;
    p.count = count;
    p.caller = kAlice;
    return p;
  }
  LeaseRecord MustAcquire(const AcquireParams& p) {
    auto lease = manager_->Acquire(p);
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? *lease : LeaseRecord{};
  }

  LeaseManagerOptions options_;
  FakeClock clock_;
  MapStore store_;
  FakeProber prober_;
  std::vector<std::string> events_;
  std::unique_ptr<LeaseManager> manager_;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_LEASE_MANAGER_TEST_FIXTURE_H_
