// portleased's budgets: the per-caller port share, and the file-descriptor
// budget: the soft RLIMIT_NOFILE raised to the
// hard limit at start, and the connection bound checked against it, so
// that a flood of clients runs into --max-connections, never into EMFILE
// in a port probe or the database.
//
//   FdLimit limit = RaiseFdLimit();  // log limit.before, limit.soft
//   absl::StatusOr<uint32_t> connections =
//       ConnectionBudget(flag_value, /*listeners=*/1, limit.soft);
#ifndef PORTLEASE_SERVER_DAEMON_FDS_H_
#define PORTLEASE_SERVER_DAEMON_FDS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "server/core/pool_config.h"

namespace portlease {

struct FdLimit {
  uint64_t before = 0;  // the soft limit found at start
  uint64_t soft = 0;    // the soft limit now
  uint64_t hard = 0;
};

// Raises the soft RLIMIT_NOFILE to the hard limit (capped at what the
// kernel allows in one process, fs.nr_open). On failure the limit stays as
// it was, and `soft` says so.
FdLimit RaiseFdLimit();

// Descriptors kept out of the connection budget: listeners, the database
// and its WAL, the log, gRPC's own (epoll, wakeups, threads), one probe
// socket per request being granted. At least 32, else an eighth of `soft`.
uint64_t FdReserve(uint64_t soft);

// The connection bound per Unix listener: `requested` (the --max-connections
// flag), or, when 0, what the budget allows: (soft - FdReserve(soft)) /
// listeners, at least 1. INVALID_ARGUMENT, naming the flag and the limit,
// when `requested` does not fit the budget.
absl::StatusOr<uint32_t> ConnectionBudget(uint32_t requested,
                                          uint32_t listeners, uint64_t soft);

// INVALID_ARGUMENT naming --max-streams unless 1 <= `streams` <= 65536.
absl::Status CheckStreamBudget(uint32_t streams);

// The --max-ports-per-owner value in force: `flag` as given (0: no limit),
// or for -1 a tenth of the pool's ports, but at least `max_ports_per_lease`
// (one lease of the largest size is always within a caller's share).
// INVALID_ARGUMENT naming the flag for other negative values.
absl::StatusOr<uint32_t> PortsPerOwner(int64_t flag,
                                       const std::vector<PortRange>& pool,
                                       uint32_t max_ports_per_lease);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_DAEMON_FDS_H_
