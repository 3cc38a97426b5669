#include "common/host/port_holders.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/system/errno_status.h"
#include "common/system/files.h"
#include "common/system/user_names.h"

namespace portlease {
namespace {

using InodeOwners = absl::flat_hash_map<uint64_t, std::vector<int64_t>>;

// Parses "socket:[12345]" into 12345.
bool ParseSocketLink(absl::string_view link, uint64_t* inode) {
  if (!absl::ConsumePrefix(&link, "socket:[") ||
      !absl::ConsumeSuffix(&link, "]")) {
    return false;
  }
  return absl::SimpleAtoi(link, inode);
}

// Adds `pid` to owners[inode] for each of its descriptors on a wanted
// socket. Processes whose fd directory cannot be opened (other users',
// exited) are skipped.
void ScanProcess(const std::string& fd_dir, int64_t pid,
                 const absl::flat_hash_set<uint64_t>& wanted,
                 InodeOwners* owners) {
  DIR* dir = opendir(fd_dir.c_str());
  if (dir == nullptr) return;
  absl::Cleanup close_dir = [dir] { closedir(dir); };
  char link[64];
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    ssize_t n = readlinkat(dirfd(dir), entry->d_name, link, sizeof(link));
    if (n <= 0 || static_cast<size_t>(n) >= sizeof(link)) continue;
    uint64_t inode = 0;
    if (!ParseSocketLink(absl::string_view(link, static_cast<size_t>(n)),
                         &inode) ||
        !wanted.contains(inode)) {
      continue;
    }
    std::vector<int64_t>& pids = (*owners)[inode];
    if (std::find(pids.begin(), pids.end(), pid) == pids.end()) {
      pids.push_back(pid);
    }
  }
}

// Maps each wanted socket inode to the pids holding it.
absl::StatusOr<InodeOwners> FindOwners(
    const std::string& proc_root, const absl::flat_hash_set<uint64_t>& wanted) {
  InodeOwners owners;
  if (wanted.empty()) return owners;
  DIR* proc = opendir(proc_root.c_str());
  if (proc == nullptr) {
    return ErrnoStatus(errno, absl::StrCat("opendir ", proc_root));
  }
  absl::Cleanup close_proc = [proc] { closedir(proc); };
  while (dirent* entry = readdir(proc)) {
    int64_t pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid) || pid <= 0) continue;
    ScanProcess(absl::StrCat(proc_root, "/", entry->d_name, "/fd"), pid, wanted,
                &owners);
  }
  return owners;
}

// The command line of `pid`, as documented on HolderProcess::command.
std::string CommandOf(const std::string& proc_root, int64_t pid) {
  const std::string dir = absl::StrCat(proc_root, "/", pid);
  absl::StatusOr<std::string> cmdline = ReadFile(dir + "/cmdline");
  if (cmdline.ok() && !cmdline->empty()) {
    std::vector<absl::string_view> args = absl::StrSplit(*cmdline, '\0');
    while (!args.empty() && args.back().empty()) args.pop_back();
    return absl::StrJoin(args, " ");
  }
  absl::StatusOr<std::string> comm = ReadFile(dir + "/comm");
  if (comm.ok()) {
    return absl::StrCat("[", absl::StripAsciiWhitespace(*comm), "]");
  }
  return "";
}

}  // namespace

absl::StatusOr<std::vector<PortHolder>> FindPortHolders(
    absl::Span<const Port> ports, const PortHolderOptions& options) {
  const absl::flat_hash_set<Port> port_set(ports.begin(), ports.end());
  absl::StatusOr<std::vector<SocketEntry>> sockets =
      ReadSocketTable(options.proc_root, {.tcp = true, .udp = options.udp});
  if (!sockets.ok()) return sockets.status();

  std::vector<PortHolder> holders;
  absl::flat_hash_set<uint64_t> wanted;
  for (SocketEntry& socket : *sockets) {
    if (!port_set.contains(socket.local_port)) continue;
    if (socket.inode != 0) wanted.insert(socket.inode);
    PortHolder holder;
    holder.socket = std::move(socket);
    holders.push_back(std::move(holder));
  }

  absl::StatusOr<InodeOwners> owners = FindOwners(options.proc_root, wanted);
  if (!owners.ok()) return owners.status();

  absl::flat_hash_map<uint32_t, std::string> users;
  absl::flat_hash_map<int64_t, std::string> commands;
  for (PortHolder& holder : holders) {
    auto [user, inserted] = users.try_emplace(holder.socket.uid);
    if (inserted) {
      user->second = UserNameOf(static_cast<uid_t>(holder.socket.uid));
    }
    holder.user = user->second;
    if (holder.socket.inode == 0) continue;
    auto it = owners->find(holder.socket.inode);
    if (it == owners->end()) {
      holder.holders_hidden = true;
      continue;
    }
    std::vector<int64_t> pids = it->second;
    std::sort(pids.begin(), pids.end());
    for (int64_t pid : pids) {
      auto [command, fresh] = commands.try_emplace(pid);
      if (fresh) command->second = CommandOf(options.proc_root, pid);
      holder.processes.push_back({pid, command->second});
    }
  }
  return holders;
}

}  // namespace portlease
