#include "status.h"

#include <string>

#include "absl/time/time.h"
#include "portlease/client.h"

#ifdef CONSUMER_EXPECT_CXX20
static_assert(__cplusplus >= 202002L,
              "linking portlease::client must compile the consumer as C++20");
#endif

std::string DescribeServer(const std::string& address) {
  portlease::Client client(address);
  absl::StatusOr<portlease::v1::StatusResponse> status =
      client.Status(absl::Seconds(5));
  if (!status.ok()) return "error: " + status.status().ToString();
  return "portleased " + status->version() + ", " +
         std::to_string(status->free()) + " ports free";
}
