#include "portlease/owner.h"

#include <unistd.h>


#include "absl/strings/str_cat.h"
#include "common/system/files.h"
#include "common/system/proc_stat.h"
#include "common/system/user_names.h"
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

}  // namespace

std::optional<std::string> StartTimeFromProcStat(absl::string_view stat) {
  absl::StatusOr<ProcStat> parsed = ParseProcStat(stat);
  if (!parsed.ok()) return std::nullopt;
  return absl::StrCat(parsed->start_time);
}

ProcessFacts CurrentProcessFacts(UserLookup user) {
  ProcessFacts facts;
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0) facts.host = host;
  facts.pid = static_cast<int>(getpid());
  if (absl::StatusOr<ProcStat> self = ReadProcStat(getpid()); self.ok()) {
    facts.start_ticks = absl::StrCat(self->start_time);
  }
  facts.command = JoinCmdline(ReadFile("/proc/self/cmdline").value_or(""));
  if (user == UserLookup::kLocal) {
    facts.user = UserNameOf(geteuid());
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
