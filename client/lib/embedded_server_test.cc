#include "lib/embedded_server.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/process_watch.h"
#include "testing/map_lookup.h"
#include "testing/temp_dir.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

using portlease::testing::MapLookup;

TEST(EmbeddedServerPathsTest, XdgDirectories) {
  EmbeddedPaths paths = EmbeddedServerPaths(
      MapLookup({{"XDG_RUNTIME_DIR", "/run/user/7"},
                 {"XDG_STATE_HOME", "/s"},
                 {"HOME", "/h"}}),
      7);
  EXPECT_EQ(paths.socket, "/run/user/7/portlease/portleased.sock");
  EXPECT_EQ(paths.address(), "unix:/run/user/7/portlease/portleased.sock");
  EXPECT_EQ(paths.lock_file, "/run/user/7/portlease/start.lock");
  EXPECT_EQ(paths.database, "/s/portlease/leases.db");
  EXPECT_EQ(paths.log_file, "/s/portlease/portleased.log");
  EXPECT_EQ(paths.config_file, "/h/.config/portlease/portleased.conf");
  EXPECT_EQ(EmbeddedServerPaths(MapLookup({{"XDG_CONFIG_HOME", "/c"}}), 7)
                .config_file,
            "/c/portlease/portleased.conf");
}

TEST(EmbeddedServerPathsTest, Fallbacks) {
  EmbeddedPaths paths = EmbeddedServerPaths(MapLookup({{"HOME", "/h"}}), 1234);
  EXPECT_EQ(paths.runtime_dir, "/tmp/portlease-1234");
  EXPECT_EQ(paths.state_dir, "/h/.local/state/portlease");
}

using portlease::testing::TempDir;

TEST(PrepareEmbeddedDirsTest, CreatesPrivateDirsAndRejectsOpenOnes) {
  TempDir tmp;
  EmbeddedPaths paths = EmbeddedServerPaths(
      MapLookup({{"XDG_RUNTIME_DIR", tmp.path() + "/run"},
                 {"XDG_STATE_HOME", tmp.path() + "/state/deep"}}),
      getuid());
  ASSERT_TRUE(PrepareEmbeddedDirs(paths, getuid()).ok());
  struct stat st;
  ASSERT_EQ(stat(paths.runtime_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat(paths.state_dir.c_str(), &st), 0);
  chmod(paths.runtime_dir.c_str(), 0755);
  EXPECT_EQ(PrepareEmbeddedDirs(paths, getuid()).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(FindServerBinaryTest, ExplicitOverride) {
  EXPECT_EQ(*FindServerBinary(MapLookup({{"PORTLEASE_SERVER_BIN", "/bin/sh"}})),
            "/bin/sh");
  EXPECT_THAT(FindServerBinary(MapLookup({{"PORTLEASE_SERVER_BIN", "/nope"}}))
                  .status()
                  .message(),
              HasSubstr("PORTLEASE_SERVER_BIN=/nope"));
  // Next to this program (the build tree has every program in bin/), else
  // nowhere.
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  ASSERT_GT(n, 0);
  std::string next_to_self(self, static_cast<size_t>(n));
  next_to_self = next_to_self.substr(0, next_to_self.rfind('/') + 1) + "portleased";
  absl::StatusOr<std::string> found =
      FindServerBinary(MapLookup({{"PATH", "/nonexistent"}}));
  if (access(next_to_self.c_str(), X_OK) == 0) {
    EXPECT_EQ(*found, next_to_self);
  } else {
    EXPECT_EQ(found.status().code(), absl::StatusCode::kFailedPrecondition);
  }
}

TEST(EnsureEmbeddedServerTest, RunningServerOnlyChecksVersion) {
  TempDir tmp;
  EmbeddedPaths paths = EmbeddedServerPaths(
      MapLookup({{"XDG_RUNTIME_DIR", tmp.path()}, {"XDG_STATE_HOME", tmp.path()}}),
      getuid());
  ASSERT_TRUE(PrepareEmbeddedDirs(paths, getuid()).ok());
  bool started = true;
  auto old_version = [](const std::string&) -> absl::StatusOr<std::string> {
    return std::string("0.0.1-old");
  };
  absl::Status status = EnsureEmbeddedServer(paths, "/nonexistent", old_version,
                                             absl::Seconds(1), &started);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("0.0.1-old"));
  EXPECT_THAT(status.message(), HasSubstr("portlease server stop"));
  EXPECT_FALSE(started);
}

TEST(EnsureEmbeddedServerTest, ServerThatExitsAtStartupIsReported) {
  TempDir tmp;
  EmbeddedPaths paths = EmbeddedServerPaths(
      MapLookup({{"XDG_RUNTIME_DIR", tmp.path()}, {"XDG_STATE_HOME", tmp.path()}}),
      getuid());
  ASSERT_TRUE(PrepareEmbeddedDirs(paths, getuid()).ok());
  bool started = false;
  auto nothing = [](const std::string&) -> absl::StatusOr<std::string> {
    return absl::UnavailableError("down");
  };
  absl::Status status = EnsureEmbeddedServer(paths, "/bin/false", nothing,
                                             absl::Seconds(5), &started);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr(paths.log_file));
}

TEST(ServerArgsTest, ConfigFileLines) {
  absl::StatusOr<std::vector<std::string>> args = ParseServerArgsText(
      "# the pool\n  --pool=20000-20099  \n\n--probe=none\n--nodurable\n",
      "/c/portleased.conf");
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_THAT(*args, ::testing::ElementsAre("--pool=20000-20099",
                                            "--probe=none", "--nodurable"));
}

TEST(ServerArgsTest, BadLinesNameTheFileAndLine) {
  absl::Status bad = ParseServerArgsText("# x\npool=1-2\n", "/c/f.conf").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("/c/f.conf:2: \"pool=1-2\""));
  EXPECT_THAT(
      ParseServerArgsText("--pool=1-2 --probe=none", "/c/f.conf").status().message(),
      HasSubstr("one --flag=value a line"));
  EXPECT_THAT(
      ParseServerArgsText("--listen=unix:/x", "/c/f.conf").status().message(),
      HasSubstr("/c/f.conf:1: --listen is set by the client"));
  EXPECT_FALSE(ParseServerArgsText("--db=/x", "f").ok());
  EXPECT_FALSE(ParseServerArgsText("--ready_fd=3", "f").ok());
  EXPECT_THAT(
      std::string(ParseServerArgsText("--reserve-pool=on", "f").status().message()),
      HasSubstr("f:1: --reserve-pool changes the host's settings"));
  EXPECT_FALSE(ParseServerArgsText("--ready-fd=3", "f").ok());
}

TEST(ServerArgsTest, VariableBeatsFile) {
  TempDir tmp;
  EmbeddedPaths paths;
  paths.config_file = tmp.path() + "/portleased.conf";
  EXPECT_TRUE(LoadEmbeddedServerArgs(MapLookup({}), paths)->args.empty());
  {
    std::ofstream out(paths.config_file);
    out << "--pool=20000-20009\n";
  }
  absl::StatusOr<EmbeddedServerArgs> from_file =
      LoadEmbeddedServerArgs(MapLookup({}), paths);
  ASSERT_TRUE(from_file.ok());
  EXPECT_THAT(from_file->args, ::testing::ElementsAre("--pool=20000-20009"));
  EXPECT_EQ(from_file->source, paths.config_file);
  absl::StatusOr<EmbeddedServerArgs> from_env = LoadEmbeddedServerArgs(
      MapLookup({{"PORTLEASE_SERVER_ARGS", " --pool=1-2\t--idle_exit=1s "}}),
      paths);
  ASSERT_TRUE(from_env.ok());
  EXPECT_THAT(from_env->args,
              ::testing::ElementsAre("--pool=1-2", "--idle_exit=1s"));
  EXPECT_EQ(from_env->source, "PORTLEASE_SERVER_ARGS");
  absl::Status bad =
      LoadEmbeddedServerArgs(MapLookup({{"PORTLEASE_SERVER_ARGS", "pool"}}), paths)
          .status();
  EXPECT_THAT(bad.message(), HasSubstr("PORTLEASE_SERVER_ARGS: \"pool\""));
}

TEST(ServerEnvironmentTest, KeepsOnlyTheAllowedNames) {
  EXPECT_THAT(
      EmbeddedServerEnvironment({"PATH=/bin", "SECRET_TOKEN=x", "HOME=/h",
                                 "LANG=C.UTF-8", "LC_ALL=C", "XDG_RUNTIME_DIR=/r",
                                 "RUNNER_TRACKING_ID=1", "PATHX=1",
                                 "LD_PRELOAD=/x.so", "PORTLEASE_ADDR=unix:/s"}),
      ::testing::ElementsAre("PATH=/bin", "HOME=/h", "LANG=C.UTF-8", "LC_ALL=C",
                             "XDG_RUNTIME_DIR=/r"));
}

TEST(PidFileTest, RecordsPidAndStartTime) {
  TempDir tmp;
  const std::string path = tmp.path() + "/portleased.pid";
  EXPECT_EQ(ReadEmbeddedPidFile(path).status().code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<ProcStat> self = ReadLiveProcess(getpid());
  ASSERT_TRUE(self.ok());
  {
    std::ofstream out(path);
    out << getpid() << " " << self->start_time << "\n";
  }
  absl::StatusOr<EmbeddedPid> recorded = ReadEmbeddedPidFile(path);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  EXPECT_EQ(recorded->pid, getpid());
  EXPECT_TRUE(IsEmbeddedServerProcess(*recorded));
  // The same pid with another start time: a reused pid, not the server.
  EXPECT_FALSE(IsEmbeddedServerProcess({getpid(), self->start_time + 1}));
  // An old pid file (pid only): the process must be named portleased.
  EXPECT_FALSE(IsEmbeddedServerProcess({getpid(), 0}));
  {
    std::ofstream out(path);
    out << "garbage\n";
  }
  EXPECT_EQ(ReadEmbeddedPidFile(path).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace portlease
