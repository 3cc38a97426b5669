// Reserved ports: portleased's --reserve-pool=on. The kernel's
// ip_local_reserved_ports (one per network namespace) lists ports that
// bind(0), connect() and every other automatic choice of a local port skip;
// a program can still bind them by number. With the pool listed there, an
// ephemeral port never lands on a pool port, so a pool that overlaps
// ip_local_port_range (--ephemeral=allow) is safe.
//
// The file is shared with whoever else reserves ports on the host, so
// ReservedPorts reads it, merges, and writes it back, and remembers which
// ranges it added: those, and only those, it removes again.
//
//   ReservedPorts reserved;  // kReservedPortsPath
//   absl::Status s = reserved.Reserve({{20000, 29999}});  // at start
//   s = reserved.Reserve({{40000, 40999}});  // set-pool: 20000-29999 goes
//   s = reserved.Release();                  // at exit
//
// The file's format, read and written: comma-separated ranges "a-b,c"
// (a single port is "c"), "" for none.
#ifndef PORTLEASE_SERVER_DAEMON_RESERVED_PORTS_H_
#define PORTLEASE_SERVER_DAEMON_RESERVED_PORTS_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/port/port.h"

namespace portlease {

inline constexpr char kReservedPortsPath[] =
    "/proc/sys/net/ipv4/ip_local_reserved_ports";

// `ranges` (any order, overlaps allowed) sorted, with overlapping and
// adjacent ranges merged: {{5, 9}, {1, 3}, {4, 4}} -> {{1, 9}}.
std::vector<PortRange> MergeRanges(std::vector<PortRange> ranges);

// The ports of `from` that are not in `take`, merged as by MergeRanges.
std::vector<PortRange> SubtractRanges(const std::vector<PortRange>& from,
                                      const std::vector<PortRange>& take);

// Where portleased records the ranges it added, for database `db_path`:
// "DB.reserved-ports".
std::string ReservedPortsRecordPath(const std::string& db_path);

// The file's content ("" or "\n": none; "1000-1010,2000\n"), merged.
// INVALID_ARGUMENT naming the text when it is not that format.
absl::StatusOr<std::vector<PortRange>> ParseReservedPorts(
    absl::string_view text);

// What to write to the file: "1000-1010,2000\n"; "\n" for none.
std::string FormatReservedPorts(const std::vector<PortRange>& ranges);

// One update of the file: `current` is what it holds now, `ours` what an
// earlier update added (and is still there), `pool` what must be reserved
// from now on ({} : nothing, at exit).
struct ReservationUpdate {
  // The file's new content: the others' entries (current minus ours) plus
  // pool, merged.
  std::vector<PortRange> write;
  // The ports of pool no one else had reserved: ours from now on.
  std::vector<PortRange> added;
};
ReservationUpdate PlanReservation(const std::vector<PortRange>& current,
                                  const std::vector<PortRange>& ours,
                                  const std::vector<PortRange>& pool);

// Keeps one pool in the reserved ports file at `path`. Thread-safe: each
// update reads, merges and writes the file under one lock. Entries someone
// else wrote meanwhile stay, unless they overlap ranges this object added
// (the file cannot tell them apart).
//
// `record_path` (empty: none) keeps what was added across a crash: it is
// rewritten after each update (removed when nothing is added), and the
// first update adopts the recorded ranges still in the file as its own, so
// a server restarted after kill -9 removes them at exit.
class ReservedPorts {
 public:
  explicit ReservedPorts(std::string path = kReservedPortsPath,
                         std::string record_path = "");
  ReservedPorts(const ReservedPorts&) = delete;
  ReservedPorts& operator=(const ReservedPorts&) = delete;
  // Release(), errors ignored: what a failed start reserved goes again.
  ~ReservedPorts();

  // Reserves `pool` instead of the pool reserved before: adds the ports of
  // `pool` not reserved yet, and removes those this object added for the
  // previous pool that `pool` leaves out. Nothing changes on error:
  // PERMISSION_DENIED (the message says how to get write access),
  // NOT_FOUND (no such file: another kernel), INVALID_ARGUMENT (content not
  // understood), or the errno's code of the failing read or write.
  absl::Status Reserve(const std::vector<PortRange>& pool);

  // Removes exactly the ranges this object added. Errors as for Reserve
  // (then they stay reserved).
  absl::Status Release();

  // What this object added and has not removed yet.
  std::vector<PortRange> added() const;

 private:
  absl::Status UpdateLocked(const std::vector<PortRange>& pool)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The record's ranges that `current` still holds, once.
  void AdoptRecordLocked(const std::vector<PortRange>& current)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriteRecordLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  const std::string record_path_;
  mutable absl::Mutex mu_;
  std::vector<PortRange> added_ ABSL_GUARDED_BY(mu_);
  bool adopted_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_DAEMON_RESERVED_PORTS_H_
