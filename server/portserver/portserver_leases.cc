#include "server/portserver/portserver_leases.h"

#include <climits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/system/user_names.h"
#include "server/core/principal.h"

namespace portlease {
namespace {

// Google's portserver refuses requests longer than this.
constexpr size_t kMaxRequestBytes = 20;
// As lease-run caps each owner value.
constexpr size_t kMaxCommandBytes = 256;

absl::Status NotAPid(absl::string_view request) {
  return absl::InvalidArgumentError(
      absl::StrCat("not a pid: \"", absl::CEscape(request), "\""));
}

}  // namespace

absl::StatusOr<pid_t> ParsePidRequest(absl::string_view request) {
  if (request.size() > kMaxRequestBytes) {
    return absl::InvalidArgumentError("more than 20 characters in \"pid\"");
  }
  absl::string_view text = absl::StripAsciiWhitespace(request);
  bool negative = false;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text.empty() || text.front() == '_' || text.back() == '_') {
    return NotAPid(request);
  }
  uint64_t value = 0;
  char previous = 0;
  for (char c : text) {
    if (c == '_') {
      if (previous == '_') return NotAPid(request);
    } else if (c >= '0' && c <= '9') {
      value = value * 10 + static_cast<uint64_t>(c - '0');
      // Saturates: any larger value is out of range all the same.
      if (value > static_cast<uint64_t>(INT_MAX)) value = 1ull + INT_MAX;
    } else {
      return NotAPid(request);
    }
    previous = c;
  }
  if (negative || value == 0) {
    return absl::InvalidArgumentError("not a positive pid");
  }
  if (value > static_cast<uint64_t>(INT_MAX)) {
    return absl::InvalidArgumentError("pid out of range");
  }
  return static_cast<pid_t>(value);
}

PortserverLeases::PortserverLeases(PortserverLeasesOptions options)
    : options_(std::move(options)) {}

absl::StatusOr<Port> PortserverLeases::Grant(absl::string_view request,
                                             const PortserverPeer& peer) {
  absl::StatusOr<pid_t> pid = ParsePidRequest(request);
  if (!pid.ok()) return pid.status();
  if (*pid == 1) {
    // The client probably meant its parent and was reparented to init.
    return absl::InvalidArgumentError("pid 1 (init) gets no port");
  }
  absl::StatusOr<ProcessInfo> process = options_.processes->Find(*pid);
  if (!process.ok()) return process.status();
  if (process->exited) {
    return absl::NotFoundError(absl::StrCat("process ", *pid, " exited"));
  }
  if (peer.uid != 0 && process->real_uid != peer.uid &&
      process->effective_uid != peer.uid) {
    return absl::PermissionDeniedError(
        absl::StrCat("process ", *pid, " belongs to uid ", process->real_uid,
                     ", not to the caller's uid ", peer.uid));
  }
  AcquireParams params;
  params.count = 1;
  params.ttl = options_.ttl;
  params.caller = Principal{UidPrincipal(peer.uid), ""};
  Metadata& owner = params.owner;
  owner[kOwnerClient] = kPortserverClient;
  owner["pid"] = absl::StrCat(*pid);
  owner["pid_start"] = absl::StrCat(process->start_time);
  owner["user"] = UserNameOf(process->real_uid);
  if (!options_.host.empty()) owner["host"] = options_.host;
  std::string command = process->command;
  if (command.size() > kMaxCommandBytes) command.resize(kMaxCommandBytes);
  if (!command.empty()) owner["command"] = std::move(command);
  owner["peer_uid"] = absl::StrCat(peer.uid);
  owner["peer_pid"] = absl::StrCat(peer.pid);
  owner["peer_user"] = UserNameOf(peer.uid);
  absl::StatusOr<LeaseRecord> lease = options_.manager->Acquire(params);
  if (!lease.ok()) return lease.status();
  return lease->base;
}

int PortserverLeases::ReleaseExited() {
  int released = 0;
  const std::vector<LeaseRecord> leases =
      options_.manager->List({{kOwnerClient, kPortserverClient}});
  for (const LeaseRecord& lease : leases) {
    if (lease.state != LeaseState::kLive) continue;
    auto pid_entry = lease.owner.find("pid");
    auto start_entry = lease.owner.find("pid_start");
    int32_t pid = 0;
    uint64_t start_time = 0;
    if (pid_entry == lease.owner.end() || start_entry == lease.owner.end() ||
        !absl::SimpleAtoi(pid_entry->second, &pid) ||
        !absl::SimpleAtoi(start_entry->second, &start_time) || pid <= 1) {
      continue;  // not one of ours after all: its TTL ends it
    }
    if (IsSameProcess(*options_.processes, pid, start_time)) continue;
    // On the process's behalf: its lease's own caller ends it.
    if (options_.manager->Release(lease.id, Principal{lease.caller, ""})
            .ok()) {
      ++released;
    }
  }
  return released;
}

}  // namespace portlease
