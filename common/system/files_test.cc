#include "common/system/files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A fresh empty directory under the test temp dir.
std::string MakeTempDir() {
  std::string pattern = ::testing::TempDir() + "/system_test_XXXXXX";
  char* made = mkdtemp(pattern.data());
  EXPECT_NE(made, nullptr) << std::strerror(errno);
  return made == nullptr ? "" : std::string(made);
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode;
}

TEST(ReadFileTest, ReadsTheWholeFile) {
  const std::string path = MakeTempDir() + "/big";
  const std::string content(100000, 'x');
  std::ofstream(path, std::ios::binary) << content << "end";
  absl::StatusOr<std::string> read = ReadFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, content + "end");
}

TEST(ReadFileTest, ReadsProcFilesThatReportNoSize) {
  absl::StatusOr<std::string> read = ReadFile("/proc/self/status");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_THAT(*read, HasSubstr("Pid:"));
}

TEST(ReadFileTest, MissingFileIsNotFoundNamingThePath) {
  const std::string path = MakeTempDir() + "/none";
  absl::StatusOr<std::string> read = ReadFile(path);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(read.status().message()), StartsWith("open " + path + ": "));
}

TEST(ReadFileTest, DirectoryIsAnErrorNotAnEmptyFile) {
  const std::string dir = MakeTempDir();
  absl::StatusOr<std::string> read = ReadFile(dir);
  EXPECT_FALSE(read.ok());
  EXPECT_THAT(std::string(read.status().message()), StartsWith("read " + dir + ": "));
}

// Sets the umask for one test (the tests of this file run on one thread).
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(umask(mask)) {}
  ~ScopedUmask() { umask(old_); }

 private:
  mode_t old_;
};

TEST(WriteFileAtomicallyTest, WritesReplacesAndSetsTheMode) {
  ScopedUmask mask(022);
  const std::string dir = MakeTempDir();
  const std::string path = dir + "/state";
  ASSERT_TRUE(WriteFileAtomically(path, "one", 0600).ok());
  EXPECT_EQ(ReadFile(path).value_or(""), "one");
  EXPECT_EQ(ModeOf(path) & 07777, 0600u);
  ASSERT_TRUE(WriteFileAtomically(path, "two", 0644).ok());
  EXPECT_EQ(ReadFile(path).value_or(""), "two");
  EXPECT_EQ(ModeOf(path) & 07777, 0644u);
  // No temporary file is left behind.
  int entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().filename(), "state");
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(WriteFileAtomicallyTest, ModeIsLessTheUmask) {
  ScopedUmask mask(027);
  const std::string path = MakeTempDir() + "/rendered";
  ASSERT_TRUE(WriteFileAtomically(path, "x", 0666).ok());
  EXPECT_EQ(ModeOf(path) & 07777, 0640u);
}

TEST(AppendToFileTest, CreatesThenAppends) {
  const std::string path = MakeTempDir() + "/log";
  ASSERT_TRUE(AppendToFile(path, "one\n", 0600).ok());
  ASSERT_TRUE(AppendToFile(path, "two\n", 0600).ok());
  EXPECT_EQ(ReadFile(path).value_or(""), "one\ntwo\n");
  EXPECT_EQ(ModeOf(path) & 07777, 0600u);
  const std::string missing = MakeTempDir() + "/no/such/log";
  const absl::Status status = AppendToFile(missing, "x", 0600);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("cannot append to " + missing + ": "));
}

TEST(WriteFileAtomicallyTest, MissingDirectoryIsNotFound) {
  const std::string path = MakeTempDir() + "/no/such/file";
  const absl::Status status = WriteFileAtomically(path, "x", 0600);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()), StartsWith("cannot write " + path + ": "));
}

TEST(MakeDirsTest, CreatesParentsAndAcceptsExisting) {
  const std::string deep = MakeTempDir() + "/a/b/c";
  ASSERT_TRUE(MakeDirs(deep, 0750).ok());
  EXPECT_TRUE(S_ISDIR(ModeOf(deep)));
  EXPECT_TRUE(MakeDirs(deep, 0750).ok());
  EXPECT_TRUE(MakeDirs("", 0750).ok());
  EXPECT_TRUE(MakeDirs(".", 0750).ok());
  EXPECT_TRUE(MakeDirs("/", 0750).ok());
}

TEST(MakeDirsTest, FileInTheWayIsFailedPrecondition) {
  const std::string file = MakeTempDir() + "/file";
  std::ofstream(file) << "x";
  absl::Status status = MakeDirs(file, 0755);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(), file + " exists and is not a directory");
  status = MakeDirs(file + "/sub", 0755);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
}

TEST(MakeDirsTest, UnwritableParentNamesTheDirectory) {
  if (geteuid() == 0) GTEST_SKIP() << "root may write anywhere";
  const std::string parent = MakeTempDir() + "/locked";
  ASSERT_TRUE(MakeDirs(parent, 0500).ok());
  const absl::Status status = MakeDirs(parent + "/x/y", 0755);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("cannot create directory " + parent + "/x: "));
}

}  // namespace
}  // namespace portlease
