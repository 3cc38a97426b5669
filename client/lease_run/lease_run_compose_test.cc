#include "lease_run/lease_run_compose.h"

#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lease_run/lease_run.h"
#include "lib/process_watch.h"
#include "testing/temp_dir.h"

namespace portlease {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ComposeFlagsTest, Forms) {
  auto options = ParseLeaseRunArgs({"--compose", "--", "docker", "compose"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->compose);
  EXPECT_TRUE(options->compose_files.empty());
  EXPECT_THAT(options->command, ElementsAre("docker", "compose"));

  options = ParseLeaseRunArgs(
      {"--compose-file", "a.yml", "--compose-file=b.yml", "--", "x"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->compose);
  EXPECT_THAT(options->compose_files, ElementsAre("a.yml", "b.yml"));

  options = ParseLeaseRunArgs({"--compose-print"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->compose && options->compose_print);
  EXPECT_TRUE(options->command.empty());
}

TEST(ComposeFlagsTest, Errors) {
  EXPECT_THAT(ParseLeaseRunArgs({"--compose", "--ports", "a", "--", "x"})
                  .status()
                  .message(),
              HasSubstr("no --ports, --count or --profile"));
  EXPECT_THAT(ParseLeaseRunArgs({"--compose", "--listen-fds", "--", "x"})
                  .status()
                  .message(),
              HasSubstr("--compose excludes --listen-fds"));
  EXPECT_THAT(
      ParseLeaseRunArgs({"--compose-print", "--", "x"}).status().message(),
      HasSubstr("--compose-print takes no command"));
  EXPECT_THAT(
      ParseLeaseRunArgs({"--compose=a.yml", "--", "x"}).status().message(),
      HasSubstr("compose"));
  EXPECT_THAT(ParseLeaseRunArgs({"--compose"}).status().message(),
              HasSubstr("missing command after --"));
}

TEST(RemoveStaleComposeFilesTest, OnlyFilesOfGoneOwners) {
  testing::TempDir dir;
  absl::StatusOr<ProcStat> self = ReadLiveProcess(getpid());
  ASSERT_TRUE(self.ok());
  auto write = [&](const std::string& name, const std::string& first) {
    std::ofstream(dir.File(name)) << first << "\nservices: {}\n";
  };
  write(".portlease-compose.aaaa.1.yml",
        absl::StrCat("# portlease-compose owner=", getpid(), ":",
                     self->start_time, " lease=aaaa"));
  write(".portlease-compose.bbbb.2.yml",
        absl::StrCat("# portlease-compose owner=", getpid(), ":",
                     self->start_time + 1, " lease=bbbb"));
  write(".portlease-compose.cccc.3.yml", "# not ours");
  write("compose.yml", "# portlease-compose owner=1:1 lease=x");
  EXPECT_EQ(RemoveStaleComposeFiles(dir.path()), 1);
  EXPECT_EQ(access(dir.File(".portlease-compose.aaaa.1.yml").c_str(), F_OK), 0);
  EXPECT_NE(access(dir.File(".portlease-compose.bbbb.2.yml").c_str(), F_OK), 0);
  EXPECT_EQ(access(dir.File(".portlease-compose.cccc.3.yml").c_str(), F_OK), 0);
  EXPECT_EQ(access(dir.File("compose.yml").c_str(), F_OK), 0);
}

TEST(CheckComposeDirWritableTest, SaysWhatToDoInstead) {
  testing::TempDir dir;
  EXPECT_TRUE(CheckComposeDirWritable(dir.path()).ok());
  absl::Status status = CheckComposeDirWritable(dir.File("gone"));
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_THAT(status.message(),
              ::testing::AllOf(::testing::HasSubstr(dir.File("gone")),
                               ::testing::HasSubstr("No such file"),
                               ::testing::HasSubstr("--compose-print")));
  EXPECT_EQ(std::string(status.message()).find('\n'), std::string::npos);
}

}  // namespace
}  // namespace portlease
