// Each test case gets a port of its own (portlease_gtest_discover_tests
// PORTS redis) and runs a Redis on it.
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "portlease/gtest_environment.h"

namespace {

portlease::LeaseEnvironment* lease = nullptr;

int Sh(const std::string& command) { return std::system(command.c_str()); }

class RedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = std::to_string(lease->Port("redis"));
    dir_ = ::testing::TempDir() + "redis-" + port_;
    ASSERT_EQ(Sh("mkdir -p " + dir_ + " && redis-server --port " + port_ +
                 " --bind 127.0.0.1 --save '' --appendonly no --daemonize yes"
                 " --pidfile " + dir_ + "/pid --dir " + dir_ + " >/dev/null"),
              0);
    ASSERT_EQ(Sh("for i in $(seq 100); do redis-cli -p " + port_ +
                 " ping 2>/dev/null | grep -q PONG && exit 0; sleep 0.05;"
                 " done; exit 1"),
              0);
  }
  void TearDown() override {
    Sh("kill $(cat " + dir_ + "/pid) 2>/dev/null; rm -rf " + dir_);
  }
  std::string port_;
  std::string dir_;
};

TEST_F(RedisTest, SetThenGet) {
  EXPECT_EQ(Sh("redis-cli -p " + port_ + " set k v | grep -q OK"), 0);
  EXPECT_EQ(Sh("test \"$(redis-cli -p " + port_ + " get k)\" = v"), 0);
}

TEST_F(RedisTest, StartsEmpty) {
  EXPECT_EQ(Sh("test \"$(redis-cli -p " + port_ + " dbsize)\" = 0"), 0);
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  lease = static_cast<portlease::LeaseEnvironment*>(
      ::testing::AddGlobalTestEnvironment(
          new portlease::LeaseEnvironment({"redis"})));
  return RUN_ALL_TESTS();
}
