// ScopedTempDir: a fresh directory for one test or benchmark, removed with
// everything in it on destruction. Test-only; header-only.
#ifndef PORTLEASE_SERVER_STORE_SCOPED_TEMP_DIR_H_
#define PORTLEASE_SERVER_STORE_SCOPED_TEMP_DIR_H_

#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace portlease {

class ScopedTempDir {
 public:
  // Creates the directory under $TEST_TMPDIR, else $TMPDIR, else /tmp.
  // Aborts if it can't: a test can't do anything useful without it.
  ScopedTempDir() {
    const char* base = std::getenv("TEST_TMPDIR");
    if (base == nullptr || *base == '\0') base = std::getenv("TMPDIR");
    if (base == nullptr || *base == '\0') base = "/tmp";
    std::string templ = std::string(base) + "/portlease-store-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    path_ = templ;
  }
  ~ScopedTempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string File(const std::string& name) const {
    return path_ + "/" + name;
  }

 private:
  std::string path_;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_STORE_SCOPED_TEMP_DIR_H_
