#include "cli/docker_ports.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace portlease {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseDockerPsTest, PublishedPortsRangesAndFamilies) {
  const std::string text =
      "m2-redis-1\t0.0.0.0:6379->6379/tcp, :::6379->6379/tcp\n"
      "web\t127.0.0.1:8000-8001->80-81/tcp\n"
      "dns\t0.0.0.0:5353->53/udp\n"
      "worker\t7001/tcp\n"
      "idle\t\n";
  EXPECT_THAT(
      ParseDockerPs(text),
      ElementsAre(
          PublishedPort{"m2-redis-1", 6379, "tcp", "0.0.0.0:6379->6379/tcp"},
          PublishedPort{"m2-redis-1", 6379, "tcp", ":::6379->6379/tcp"},
          PublishedPort{"web", 8000, "tcp", "127.0.0.1:8000-8001->80-81/tcp"},
          PublishedPort{"web", 8001, "tcp", "127.0.0.1:8000-8001->80-81/tcp"},
          PublishedPort{"dns", 5353, "udp", "0.0.0.0:5353->53/udp"}));
}

TEST(ParseDockerPsTest, MalformedEntriesAreSkipped) {
  EXPECT_TRUE(ParseDockerPs("a\t0.0.0.0:x->1/tcp\nb\t0.0.0.0:9-8->1/tcp\n"
                            "c\tno-arrow\nd")
                  .empty());
}

// The docker CLI needs a daemon, which test machines do not have: these
// run a stand-in `docker` script from PATH.
class ListPublishedPortsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* path = getenv("PATH");
    old_path_ = path == nullptr ? "" : path;
    setenv("PATH", dir_.path().c_str(), 1);
  }
  void TearDown() override { setenv("PATH", old_path_.c_str(), 1); }

  void WriteDocker(const std::string& body) {
    const std::string file = dir_.File("docker");
    std::ofstream(file) << "#!/bin/sh\n" << body;
    chmod(file.c_str(), 0755);
  }

  portlease::testing::TempDir dir_;
  std::string old_path_;
};

TEST_F(ListPublishedPortsTest, RunsDockerPsWithTheFormat) {
  WriteDocker(
      "[ \"$1 $2 $3\" = \"ps --format {{.Names}}\t{{.Ports}}\" ] || exit 3\n"
      "printf 'm2-redis-1\\t0.0.0.0:6379->6379/tcp\\n'\n");
  absl::StatusOr<std::vector<PublishedPort>> published = ListPublishedPorts();
  ASSERT_TRUE(published.ok()) << published.status();
  EXPECT_THAT(*published, ElementsAre(PublishedPort{
                              "m2-redis-1", 6379, "tcp",
                              "0.0.0.0:6379->6379/tcp"}));
}

TEST_F(ListPublishedPortsTest, DockersFailureIsUnavailableWithItsMessage) {
  WriteDocker(
      "echo 'Cannot connect to the Docker daemon at "
      "unix:///var/run/docker.sock.' >&2\nexit 1\n");
  absl::StatusOr<std::vector<PublishedPort>> published = ListPublishedPorts();
  EXPECT_EQ(published.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(published.status().message()),
              HasSubstr("docker ps failed: Cannot connect to the Docker daemon"));
}

TEST_F(ListPublishedPortsTest, NoDockerIsNotFound) {
  absl::StatusOr<std::vector<PublishedPort>> published = ListPublishedPorts();
  EXPECT_EQ(published.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(published.status().message(), "no docker CLI on PATH");
}

}  // namespace
}  // namespace portlease
