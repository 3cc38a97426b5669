// A consumer's GoogleTest program: the fixture's lease through
// portlease::LeaseEnvironment, the server through portlease::Client.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <memory>

#include "gtest/gtest.h"
#include "portlease/client.h"
#include "portlease/gtest_environment.h"

namespace {

portlease::LeaseEnvironment* lease = nullptr;

// True when `port` can be bound on 127.0.0.1 now.
bool CanBind(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok =
      bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

TEST(LeaseEnvironment, PortsAreLeasedAndFree) {
  const uint16_t redis = lease->Port("redis");
  const uint16_t worker = lease->Port("worker");
  ASSERT_NE(redis, 0);
  ASSERT_NE(worker, 0);
  EXPECT_NE(redis, worker);
  EXPECT_TRUE(CanBind(redis));
  EXPECT_TRUE(CanBind(worker));
  std::ofstream(std::string(CONSUMER_OUT_DIR) + "/fx_gtest.gtest")
      << lease->lease_id() << " " << redis << " " << worker << "\n";
}

TEST(LeaseEnvironment, LeaseIsLiveOnTheServer) {
  absl::StatusOr<std::unique_ptr<portlease::Client>> client =
      portlease::Client::FromEnvironment();
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<portlease::v1::Lease> got = (*client)->Get(lease->lease_id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->state(), portlease::v1::LEASE_STATE_LIVE);
  EXPECT_EQ(got->ports(0).port(), lease->Port("redis"));
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  lease = static_cast<portlease::LeaseEnvironment*>(
      ::testing::AddGlobalTestEnvironment(
          new portlease::LeaseEnvironment({"redis", "worker"})));
  return RUN_ALL_TESTS();
}
