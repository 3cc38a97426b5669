// Ports and time budgets for the test suite.
//
// The suite leases the ports it gives to other processes from its own
// portleased, the CTest fixture `portlease_test_server` (see
// tests/support/CMakeLists.txt), so that tests running in parallel, and
// the kernel handing out ephemeral ports to their connections, never meet
// on a port. The fixture's pool lies outside the kernel's ephemeral range.
//
//   portlease::testing::LeasedPorts ports(5);        // 5 contiguous ports
//   StartChild({"--port", absl::StrCat(ports.port(0))});
//   ...                                              // released at scope end
//
// The rule the suite follows (ci/check-test-ports.sh enforces its shape):
// a port that another process binds, or a pool a probing portleased hands
// out, comes from a LeasedPorts (C++) or from `with-test-ports` (scripts).
// Servers in the test process bind port 0 and report what they got; a
// portleased run with --probe=none whose grants nobody binds may use any
// numbers.
//
// TimeScale() and Scaled() (testing/time_scale.h, included here) are the
// suite's one factor for time budgets: 1 in a release build, more under
// sanitizers; $PORTLEASE_TEST_TIME_SCALE overrides it.
#ifndef PORTLEASE_TESTS_SUPPORT_TEST_PORTS_H_
#define PORTLEASE_TESTS_SUPPORT_TEST_PORTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "portlease/client.h"
#include "testing/time_scale.h"  // IWYU pragma: export

namespace portlease {
class ScopedLease;
}

namespace portlease::testing {

// Client options for tests: the default deadlines times TimeScale() (an
// RPC such as Who scans /proc, which a sanitizer build on a loaded machine
// does slowly).
ClientOptions ScaledClientOptions();

// The suite server's address: $PORTLEASE_TEST_ADDR, else the address the
// build configured for the fixture.
std::string TestServerAddress();

// One lease of `count` contiguous ports (1..64) from the suite server, held
// (renewed, Hold stream open) until destruction. Not copyable; movable.
//
// The constructor waits up to Scaled(2 min) when the pool is busy. When
// the suite server cannot be reached it reports why with ADD_FAILURE and
// aborts: a test without its ports cannot run.
class LeasedPorts {
 public:
  explicit LeasedPorts(uint32_t count);
  // As the constructor, but returns the error instead of aborting.
  static absl::StatusOr<LeasedPorts> Acquire(uint32_t count);
  LeasedPorts(LeasedPorts&&) noexcept;
  LeasedPorts& operator=(LeasedPorts&&) noexcept;
  ~LeasedPorts();  // releases the lease

  uint16_t base() const { return base_; }
  uint32_t count() const { return count_; }
  // base() + i, for i < count().
  uint16_t port(uint32_t i) const;
  std::vector<uint16_t> ports() const;
  // "base-last", portleased's --pool syntax.
  std::string Range() const;

 private:
  LeasedPorts() = default;
  std::unique_ptr<ScopedLease> lease_;
  uint16_t base_ = 0;
  uint32_t count_ = 0;
};

}  // namespace portlease::testing

#endif  // PORTLEASE_TESTS_SUPPORT_TEST_PORTS_H_
