#include "common/host/docker_proxy.h"

#include <optional>

#include "gtest/gtest.h"

namespace portlease {
namespace {

TEST(ParseDockerProxyTest, ReadsTheArgumentsDockerStartsItWith) {
  std::optional<DockerProxy> proxy = ParseDockerProxy(
      "/usr/bin/docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 6379 "
      "-container-ip 172.17.0.2 -container-port 6380");
  ASSERT_TRUE(proxy.has_value());
  EXPECT_EQ(proxy->protocol, "tcp");
  EXPECT_EQ(proxy->host_ip, "0.0.0.0");
  EXPECT_EQ(proxy->host_port, 6379);
  EXPECT_EQ(proxy->container_ip, "172.17.0.2");
  EXPECT_EQ(proxy->container_port, 6380);
  EXPECT_EQ(proxy->ContainerAddress(), "172.17.0.2:6380");
}

TEST(ParseDockerProxyTest, TakesEveryGoFlagSpellingAndIPv6) {
  std::optional<DockerProxy> proxy = ParseDockerProxy(
      "docker-proxy --proto=udp -host-ip=:: --host-port 53 "
      "-use-listen-fd -container-ip fd00::2 -container-port=5353");
  ASSERT_TRUE(proxy.has_value());
  EXPECT_EQ(proxy->protocol, "udp");
  EXPECT_EQ(proxy->host_ip, "::");
  EXPECT_EQ(proxy->host_port, 53);
  EXPECT_EQ(proxy->ContainerAddress(), "[fd00::2]:5353");
}

TEST(ParseDockerProxyTest, OtherProgramsAndMissingArgumentsAreNotAContainer) {
  EXPECT_FALSE(ParseDockerProxy("redis-server *:6379").has_value());
  EXPECT_FALSE(ParseDockerProxy("/usr/bin/docker-proxyx -proto tcp").has_value());
  EXPECT_FALSE(ParseDockerProxy("").has_value());
  std::optional<DockerProxy> bare = ParseDockerProxy("docker-proxy");
  ASSERT_TRUE(bare.has_value());
  EXPECT_EQ(bare->ContainerAddress(), "");
  std::optional<DockerProxy> junk =
      ParseDockerProxy("docker-proxy -container-ip 10.0.0.2 -container-port x");
  ASSERT_TRUE(junk.has_value());
  EXPECT_EQ(junk->ContainerAddress(), "");
}

}  // namespace
}  // namespace portlease
