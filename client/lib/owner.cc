#include "portlease/owner.h"

#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "portlease/lease_env.h"

namespace portlease {
namespace {

constexpr size_t kMaxValueBytes = 256;

constexpr const char* kCiVariables[] = {
    "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "GITHUB_JOB",
    "GITHUB_REPOSITORY", "RUNNER_NAME", "CI_JOB_ID",
    "CI_PIPELINE_ID", "CI_PROJECT_PATH", "CI_RUNNER_ID",
    "CI_CONCURRENT_ID",
};

std::string ReadFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

std::optional<std::string> StartTimeFromProcStat(absl::string_view stat) {
  // "pid (comm) state ppid ..." where comm may hold anything: fields are
  // counted from the last ')'; field 3 (state) follows it.
  const size_t paren = stat.rfind(')');
  if (paren == absl::string_view::npos) return std::nullopt;
  std::vector<absl::string_view> fields = absl::StrSplit(
      stat.substr(paren + 1), ' ', absl::SkipEmpty());
  constexpr size_t kIndex = 22 - 3;
  if (fields.size() <= kIndex) return std::nullopt;
  absl::string_view value = fields[kIndex];
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return std::string(value);
}

ProcessFacts CurrentProcessFacts() {
  ProcessFacts facts;
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0) facts.host = host;
  facts.pid = static_cast<int>(getpid());
  facts.start_ticks =
      StartTimeFromProcStat(ReadFile("/proc/self/stat")).value_or("");
  std::string cmdline = ReadFile("/proc/self/cmdline");
  while (!cmdline.empty() && cmdline.back() == '\0') cmdline.pop_back();
  for (char& c : cmdline) {
    if (c == '\0') c = ' ';
  }
  facts.command = cmdline;
  struct passwd pwd;
  struct passwd* result = nullptr;
  char buffer[4096];
  if (getpwuid_r(geteuid(), &pwd, buffer, sizeof(buffer), &result) == 0 &&
      result != nullptr) {
    facts.user = result->pw_name;
  } else {
    facts.user = absl::StrCat(geteuid());
  }
  facts.environment = ProcessEnvironment();
  return facts;
}

OwnerMetadata BuildOwnerMetadata(const ProcessFacts& facts) {
  OwnerMetadata owner;
  auto put = [&owner](const std::string& key, std::string value) {
    if (value.empty()) return;
    if (value.size() > kMaxValueBytes) value.resize(kMaxValueBytes);
    owner[key] = std::move(value);
  };
  put("host", facts.host);
  put("user", facts.user);
  if (facts.pid > 0) put("pid", absl::StrCat(facts.pid));
  put("pid_start", facts.start_ticks);
  put("command", facts.command);
  if (facts.environment) {
    for (const char* name : kCiVariables) {
      if (auto value = facts.environment(name)) put(name, *value);
    }
  }
  return owner;
}

}  // namespace portlease
