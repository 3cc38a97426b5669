// TempDir: a fresh directory for one test, removed with everything in it
// when the TempDir goes out of scope.
//
//   testing::TempDir dir;
//   WriteFile(dir.File("config.json"), "...");
//   Listen("unix:" + dir.File("s.sock"));
//
// Thread-compatible. Test-only: production code never links testing/.
#ifndef PORTLEASE_TESTING_TEMP_DIR_H_
#define PORTLEASE_TESTING_TEMP_DIR_H_

#include <string>

namespace portlease::testing {

class TempDir {
 public:
  // Creates $TEST_TMPDIR/plt-XXXXXX, or /tmp/plt-XXXXXX when TEST_TMPDIR
  // is unset or empty: a short path, so that Unix socket paths inside it
  // fit. Aborts if it can't: a test can do nothing useful without it.
  TempDir();
  // Removes the directory and its content; symbolic links are not followed.
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string File(const std::string& name) const {
    return path_ + "/" + name;
  }

 private:
  std::string path_;
};

}  // namespace portlease::testing

#endif  // PORTLEASE_TESTING_TEMP_DIR_H_
