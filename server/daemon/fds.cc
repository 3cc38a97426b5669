#include "server/daemon/fds.h"

#include <sys/resource.h>

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/system/files.h"

namespace portlease {
namespace {

// fs.nr_open: the most descriptors one process may have, whatever its
// RLIMIT_NOFILE says. 0 when unknown.
uint64_t NrOpen() {
  absl::StatusOr<std::string> text = ReadFile("/proc/sys/fs/nr_open");
  uint64_t value = 0;
  if (!text.ok() || !absl::SimpleAtoi(*text, &value)) return 0;
  return value;
}

}  // namespace

FdLimit RaiseFdLimit() {
  FdLimit out;
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return out;
  out.before = limit.rlim_cur;
  out.soft = limit.rlim_cur;
  out.hard = limit.rlim_max;
  rlim_t target = limit.rlim_max;
  if (target == RLIM_INFINITY) {
    const uint64_t nr_open = NrOpen();
    target = nr_open > 0 ? nr_open : limit.rlim_cur;
  }
  if (target <= limit.rlim_cur) return out;
  rlimit raised = limit;
  raised.rlim_cur = target;
  if (setrlimit(RLIMIT_NOFILE, &raised) == 0) out.soft = target;
  return out;
}

uint64_t FdReserve(uint64_t soft) { return std::max<uint64_t>(32, soft / 8); }

absl::StatusOr<uint32_t> ConnectionBudget(uint32_t requested,
                                          uint32_t listeners, uint64_t soft) {
  listeners = std::max<uint32_t>(listeners, 1);
  const uint64_t reserve = FdReserve(soft);
  const uint64_t budget = soft > reserve ? (soft - reserve) / listeners : 0;
  if (requested == 0) {
    return static_cast<uint32_t>(
        std::clamp<uint64_t>(budget, 1, uint64_t{UINT32_MAX}));
  }
  if (requested <= budget) return requested;
  return absl::InvalidArgumentError(absl::StrCat(
      "--max-connections=", requested, " does not fit the open-file limit ",
      soft, " (", reserve, " kept for probes, the database and gRPC",
      listeners > 1 ? absl::StrCat(", ", listeners, " Unix listeners") : "",
      "): use at most ", budget,
      ", or raise the limit (ulimit -n, systemd LimitNOFILE)"));
}

absl::Status CheckStreamBudget(uint32_t streams) {
  if (streams >= 1 && streams <= 65536) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--max-streams=", streams,
                   ": expected 1 to 65536 concurrent calls per "
                   "connection"));
}

absl::StatusOr<uint32_t> PortsPerOwner(int64_t flag,
                                       const std::vector<PortRange>& pool,
                                       uint32_t max_ports_per_lease) {
  if (flag >= 0) {
    return static_cast<uint32_t>(std::min<int64_t>(flag, UINT32_MAX));
  }
  if (flag != -1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-ports-per-owner=", flag,
        ": expected a number of ports, 0 (no limit) or -1 (a tenth of the "
        "pool)"));
  }
  uint64_t size = 0;
  for (const PortRange& range : pool) size += range.size();
  return static_cast<uint32_t>(std::max<uint64_t>(
      size / 10, std::max<uint32_t>(max_ports_per_lease, 1)));
}

}  // namespace portlease
