// portlease::LeaseEnvironment: a GoogleTest environment that gives tests the
// ports of the lease their CTest fixture holds (ctest/PortLease.cmake).
//
//   portlease::LeaseEnvironment* lease;  // set in main, read by tests
//
//   TEST(Redis, Answers) {
//     RedisClient redis("127.0.0.1", lease->Port("redis"));
//     ...
//   }
//
//   int main(int argc, char** argv) {
//     ::testing::InitGoogleTest(&argc, argv);
//     lease = static_cast<portlease::LeaseEnvironment*>(
//         ::testing::AddGlobalTestEnvironment(
//             new portlease::LeaseEnvironment({"redis"})));
//     return RUN_ALL_TESTS();
//   }
//
// SetUp() loads the lease's variables from the file named by
// $PORTLEASE_ENV_FILE (set by lease-exec and by the module's test helpers),
// else from the process environment when it has PORTLEASE_LEASE_ID (under
// lease-run or lease-exec). Without either, or when a required port is
// missing, SetUp() fails with a message that says how to run the test, and
// GoogleTest then runs no test of the program.
//
// Link portlease::gtest_env (installed) or portlease_gtest_env (in tree).
// Thread-safety: SetUp() runs before the tests; afterwards the accessors
// are const and may be called from any thread.
#ifndef PORTLEASE_CLIENT_INCLUDE_PORTLEASE_GTEST_ENVIRONMENT_H_
#define PORTLEASE_CLIENT_INCLUDE_PORTLEASE_GTEST_ENVIRONMENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "portlease/lease_env.h"
#include "portlease/template.h"

namespace portlease {

class LeaseEnvironment : public ::testing::Environment {
 public:
  // `required_ports`: port names ("redis") whose NAME_PORT variable must be
  // present.
  explicit LeaseEnvironment(std::vector<std::string> required_ports = {});

  void SetUp() override;

  // The port named `name` ("redis" reads REDIS_PORT; a profile's custom
  // variable names are read with Get). 0 when there is none.
  uint16_t Port(absl::string_view name) const;
  // The value of a lease variable ("REDIS_URL"); nullopt when unset.
  std::optional<std::string> Get(absl::string_view variable) const;
  // PORTLEASE_LEASE_ID ("" before SetUp).
  std::string lease_id() const;
  // All variables loaded.
  const Variables& variables() const { return vars_; }

  // What SetUp does, as a function: the variables from the file named by
  // PORTLEASE_ENV_FILE in `environment`, else `process_variables` when they
  // include PORTLEASE_LEASE_ID; then checks `required_ports`.
  // FAILED_PRECONDITION with a how-to message when there is no lease or a
  // port is missing; file errors as ReadVariablesFile.
  static absl::StatusOr<Variables> Load(
      const VariableLookup& environment, const Variables& process_variables,
      const std::vector<std::string>& required_ports);

 private:
  const std::vector<std::string> required_ports_;
  Variables vars_;
};

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_INCLUDE_PORTLEASE_GTEST_ENVIRONMENT_H_
