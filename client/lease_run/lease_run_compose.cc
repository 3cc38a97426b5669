#include "lease_run/lease_run_compose.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/conventions/exit_codes.h"
#include "common/system/files.h"
#include "compose/compose_file.h"
#include "lease_run/lease_run_modes.h"
#include "lease_run/lease_session.h"
#include "lib/process_watch.h"

namespace portlease {
namespace {

constexpr char kFilePrefix[] = ".portlease-compose.";
constexpr char kFileSuffix[] = ".yml";
constexpr char kOwnerTag[] = "# portlease-compose owner=";
constexpr int kMaxComposePorts = 64;  // a lease's limit (profile.h)

// "# portlease-compose owner=PID:START lease=PREFIX": who removes the file.
std::string OwnerLine(const std::string& lease_prefix) {
  absl::StatusOr<ProcStat> self = ReadLiveProcess(getpid());
  return absl::StrCat(kOwnerTag, getpid(), ":",
                      self.ok() ? self->start_time : 0, " lease=", lease_prefix,
                      "\n");
}

// The owner recorded in `path` is alive, or cannot be read.
bool OwnerAlive(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return true;
  absl::string_view line = *text;
  line = line.substr(0, line.find('\n'));
  if (!absl::ConsumePrefix(&line, kOwnerTag)) return true;
  std::vector<absl::string_view> fields =
      absl::StrSplit(line.substr(0, line.find(' ')), ':');
  pid_t pid = 0;
  uint64_t start = 0;
  if (fields.size() != 2 || !absl::SimpleAtoi(fields[0], &pid) ||
      !absl::SimpleAtoi(fields[1], &start)) {
    return true;
  }
  return IsSameProcess(pid, start);
}

// The leased port of every name, in the project's order.
std::vector<int> LeasedPorts(const ComposeProject& project,
                             const ScopedLease& lease) {
  std::map<std::string, int> by_name;
  for (const v1::PortAssignment& port : lease.lease().ports()) {
    by_name[port.name()] = static_cast<int>(port.port());
  }
  std::vector<int> ports;
  for (const std::string& name : project.names) ports.push_back(by_name[name]);
  return ports;
}

}  // namespace

absl::Status CheckComposeFlags(const LeaseRunOptions& options,
                               const SplitArgs& split) {
  if (!options.compose) return absl::OkStatus();
  if (!options.ports.empty() || options.count != 0 ||
      !options.profile.empty()) {
    return absl::InvalidArgumentError(
        "--compose leases the compose files' ports: no --ports, --count or "
        "--profile");
  }
  if (options.listen_fds || options.detach ||
      !options.ctest_resource_spec.empty() ||
      !options.release_env_file.empty()) {
    return absl::InvalidArgumentError(
        "--compose excludes --listen-fds, --detach, --ctest-resource-spec and "
        "--release-env-file");
  }
  if (options.compose_print &&
      (split.saw_dashdash || !split.positional.empty())) {
    return absl::InvalidArgumentError("--compose-print takes no command");
  }
  return absl::OkStatus();
}

int RemoveStaleComposeFiles(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return 0;
  std::vector<std::string> stale;
  while (const dirent* entry = readdir(d)) {
    const std::string name = entry->d_name;
    if (!absl::StartsWith(name, kFilePrefix) ||
        !absl::EndsWith(name, kFileSuffix)) {
      continue;
    }
    const std::string path = absl::StrCat(dir, "/", name);
    if (!OwnerAlive(path)) stale.push_back(path);
  }
  closedir(d);
  int removed = 0;
  for (const std::string& path : stale) {
    if (std::remove(path.c_str()) == 0) ++removed;
  }
  return removed;
}

absl::Status CheckComposeDirWritable(const std::string& dir) {
  if (access(dir.c_str(), W_OK | X_OK) == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "cannot write the rewritten compose file in ", dir, " (",
      std::strerror(errno),
      "): it goes next to the first compose file so that relative paths "
      "resolve; run from a writable copy of the project, or review it with "
      "--compose-print"));
}

int RunCompose(const LeaseRunOptions& options, std::ostream& err) {
  absl::StatusOr<std::vector<std::string>> files =
      options.compose_files.empty()
          ? DefaultComposeFiles(ProcessEnvironment(), CurrentDirectoryOrEmpty())
          : options.compose_files;
  if (!files.ok()) {
    return ReportFailure({kExitUsage, std::string(files.status().message())},
                         err);
  }
  absl::StatusOr<ComposeProject> project =
      LoadComposeProject(*files, ProcessEnvironment(), kMaxComposePorts);
  if (!project.ok()) {
    return ReportFailure({kExitUsage, std::string(project.status().message())},
                         err);
  }
  if (project->names.empty()) {
    return ReportFailure(
        {kExitUsage, absl::StrCat(absl::StrJoin(*files, ", "),
                                  ": no service publishes a port")},
        err);
  }
  if (absl::Status writable = CheckComposeDirWritable(project->dir);
      !options.compose_print && !writable.ok()) {
    return ReportFailure({kExitFailed, std::string(writable.message())}, err);
  }
  RemoveStaleComposeFiles(project->dir);
  LeaseRunOptions run = options;
  run.ports = absl::StrJoin(project->names, ",");
  run.udp = options.udp || project->udp;
  // --compose-print runs nothing; RunCommand wants a command all the same.
  if (options.compose_print) run.command = {"--compose-print"};
  std::string written;
  absl::Cleanup remove_written = [&written] {
    if (!written.empty()) std::remove(written.c_str());
  };
  return RunCommand(
      run, err,
      [&](const ScopedLease& lease, Variables* vars) -> std::optional<int> {
        const std::string prefix = lease.lease().lease_id_prefix();
        const std::string text = RewriteComposeProject(
            *project, LeasedPorts(*project, lease),
            absl::StrCat(OwnerLine(prefix),
                         "# Written by lease-run --compose from ",
                         absl::StrJoin(project->files, ", "),
                         "; removed when the lease ends.\n"));
        if (options.compose_print) {
          std::cout << text << std::flush;
          return 0;
        }
        const std::string path = absl::StrCat(
            project->dir, "/", kFilePrefix, prefix, ".", getpid(), kFileSuffix);
        absl::Status status = WriteFileAtomically(path, text, 0644);
        if (!status.ok()) {
          return ReportFailure({1, std::string(status.message())}, err);
        }
        written = path;
        vars->emplace_back("COMPOSE_FILE", path);
        return std::nullopt;
      });
}

}  // namespace portlease
