#include "tests/support/test_ports.h"

#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "portlease/client.h"
#include "portlease/owner.h"
#include "portlease/scoped_lease.h"

#ifndef PORTLEASE_TEST_SERVER_ADDR
#error "PORTLEASE_TEST_SERVER_ADDR: set by tests/support/CMakeLists.txt"
#endif

namespace portlease::testing {
namespace {

// Long enough for a test binary; renewed every third of it while held.
constexpr absl::Duration kTtl = absl::Minutes(2);

}  // namespace

ClientOptions ScaledClientOptions() {
  ClientOptions options;
  options.rpc_timeout = Scaled(options.rpc_timeout);
  options.initial_backoff = Scaled(options.initial_backoff);
  options.max_backoff = Scaled(options.max_backoff);
  return options;
}

std::string TestServerAddress() {
  const char* env = std::getenv("PORTLEASE_TEST_ADDR");
  return env != nullptr && *env != '\0' ? env : PORTLEASE_TEST_SERVER_ADDR;
}

absl::StatusOr<LeasedPorts> LeasedPorts::Acquire(uint32_t count) {
  auto client =
      std::make_shared<Client>(TestServerAddress(), ScaledClientOptions());
  ScopedLeaseOptions lease_options;
  lease_options.spec.count = count;
  lease_options.spec.ttl = kTtl;
  lease_options.spec.wait = Scaled(absl::Minutes(2));
  lease_options.spec.owner = BuildOwnerMetadata(CurrentProcessFacts());
  if (const ::testing::TestInfo* test =
          ::testing::UnitTest::GetInstance()->current_test_info()) {
    lease_options.spec.owner["test"] =
        absl::StrCat(test->test_suite_name(), ".", test->name());
  }
  lease_options.release_timeout = Scaled(absl::Seconds(2));
  absl::StatusOr<std::unique_ptr<ScopedLease>> lease =
      ScopedLease::Acquire(std::move(client), std::move(lease_options));
  if (!lease.ok()) {
    return absl::Status(
        lease.status().code(),
        absl::StrCat("cannot lease ", count, " test ports from the suite's "
                     "portleased at ", TestServerAddress(), ": ",
                     lease.status().message(),
                     " (run the test through ctest, which starts it as the "
                     "fixture portlease_test_server, or set "
                     "PORTLEASE_TEST_ADDR to a portleased to lease from)"));
  }
  LeasedPorts ports;
  ports.base_ = static_cast<uint16_t>((*lease)->lease().base_port());
  ports.count_ = (*lease)->lease().count();
  ports.lease_ = *std::move(lease);
  return ports;
}

LeasedPorts::LeasedPorts(uint32_t count) {
  absl::StatusOr<LeasedPorts> leased = Acquire(count);
  if (!leased.ok()) {
    ADD_FAILURE() << leased.status().message();
    std::abort();
  }
  *this = *std::move(leased);
}

LeasedPorts::LeasedPorts(LeasedPorts&&) noexcept = default;
LeasedPorts& LeasedPorts::operator=(LeasedPorts&&) noexcept = default;
LeasedPorts::~LeasedPorts() = default;

uint16_t LeasedPorts::port(uint32_t i) const {
  if (i >= count_) {
    ADD_FAILURE() << "port " << i << " of a lease of " << count_;
    std::abort();
  }
  return static_cast<uint16_t>(base_ + i);
}

std::vector<uint16_t> LeasedPorts::ports() const {
  std::vector<uint16_t> all;
  for (uint32_t i = 0; i < count_; ++i) all.push_back(port(i));
  return all;
}

std::string LeasedPorts::Range() const {
  return absl::StrCat(base_, "-", base_ + count_ - 1);
}

}  // namespace portlease::testing
