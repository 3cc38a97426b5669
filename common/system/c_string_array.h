// A null-terminated array of C strings over strings it owns, for the argv
// and envp of execve(2) and posix_spawn(3):
//
//   CStringArray argv({"redis-server", "--port", "6400"});
//   execv("/usr/bin/redis-server", argv.data());
//
// Not copyable or movable (the pointers point into its own strings);
// thread-compatible.
#ifndef PORTLEASE_COMMON_SYSTEM_C_STRING_ARRAY_H_
#define PORTLEASE_COMMON_SYSTEM_C_STRING_ARRAY_H_

#include <string>
#include <utility>
#include <vector>

namespace portlease {

class CStringArray {
 public:
  explicit CStringArray(std::vector<std::string> strings)
      : strings_(std::move(strings)) {
    pointers_.reserve(strings_.size() + 1);
    for (std::string& s : strings_) pointers_.push_back(s.data());
    pointers_.push_back(nullptr);
  }
  CStringArray(const CStringArray&) = delete;
  CStringArray& operator=(const CStringArray&) = delete;

  // The array: size() pointers, then nullptr. Valid while *this lives.
  char* const* data() const { return pointers_.data(); }
  char* operator[](size_t i) const { return pointers_[i]; }
  size_t size() const { return strings_.size(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_;
};

}  // namespace portlease

#endif  // PORTLEASE_COMMON_SYSTEM_C_STRING_ARRAY_H_
