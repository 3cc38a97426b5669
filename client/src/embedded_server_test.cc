#include "src/embedded_server.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

VariableLookup MapLookup(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](
             absl::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

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
}

TEST(EmbeddedServerPathsTest, Fallbacks) {
  EmbeddedPaths paths = EmbeddedServerPaths(MapLookup({{"HOME", "/h"}}), 1234);
  EXPECT_EQ(paths.runtime_dir, "/tmp/portlease-1234");
  EXPECT_EQ(paths.state_dir, "/h/.local/state/portlease");
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/plc-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { (void)system(("rm -rf " + path_).c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

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
  EXPECT_EQ(FindServerBinary(MapLookup({{"PATH", "/nonexistent"}})).status().code(),
            absl::StatusCode::kFailedPrecondition);
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
  EXPECT_THAT(status.message(), HasSubstr("kill $(cat " + paths.pid_file));
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

}  // namespace
}  // namespace portlease
