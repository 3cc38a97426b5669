#include "server/daemon/reserved_ports.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/system/errno_status.h"
#include "common/system/files.h"

namespace portlease {
namespace {

// The advice every "cannot write" error ends with.
absl::Status NoWriteAccess(const std::string& path, int err) {
  return absl::PermissionDeniedError(absl::StrCat(
      "--reserve-pool=on needs write access to ", path, " (",
      std::strerror(err),
      "; run as root or with CAP_NET_ADMIN, or --reserve-pool=off)"));
}

absl::StatusOr<std::vector<PortRange>> ReadReserved(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (absl::IsNotFound(text.status())) {
    return absl::NotFoundError(absl::StrCat(
        "--reserve-pool=on: no ", path,
        " on this host (the kernel cannot reserve ports; use "
        "--reserve-pool=off)"));
  }
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat("--reserve-pool=on: ",
                                     text.status().message()));
  }
  return ParseReservedPorts(*text);
}

absl::Status WriteReserved(const std::string& path,
                           const std::vector<PortRange>& ranges) {
  const std::string text = FormatReservedPorts(ranges);
  const int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == EACCES || err == EPERM || err == EROFS) {
      return NoWriteAccess(path, err);
    }
    return ErrnoStatus(err, absl::StrCat("--reserve-pool=on: open ", path));
  }
  // A sysctl file takes its whole value in one write.
  const ssize_t written = write(fd, text.data(), text.size());
  const int err = errno;
  close(fd);
  if (written == static_cast<ssize_t>(text.size())) return absl::OkStatus();
  if (written >= 0) {
    return absl::InternalError(absl::StrCat(
        "--reserve-pool=on: short write to ", path, " (", written, " of ",
        text.size(), " bytes)"));
  }
  if (err == EACCES || err == EPERM || err == EROFS) {
    return NoWriteAccess(path, err);
  }
  return ErrnoStatus(err, absl::StrCat("--reserve-pool=on: write ", path,
                                       " \"", absl::StripAsciiWhitespace(text),
                                       "\""));
}

}  // namespace

std::vector<PortRange> MergeRanges(std::vector<PortRange> ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const PortRange& a, const PortRange& b) { return a.lo < b.lo; });
  std::vector<PortRange> merged;
  for (const PortRange& r : ranges) {
    if (!merged.empty() && uint32_t{merged.back().hi} + 1 >= r.lo) {
      merged.back().hi = std::max(merged.back().hi, r.hi);
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

std::vector<PortRange> SubtractRanges(const std::vector<PortRange>& from,
                                      const std::vector<PortRange>& take) {
  const std::vector<PortRange> cut = MergeRanges(take);
  std::vector<PortRange> left;
  for (const PortRange& r : MergeRanges(from)) {
    uint32_t lo = r.lo;  // the part of r not yet decided
    for (const PortRange& c : cut) {
      if (c.hi < lo || c.lo > r.hi) continue;
      if (c.lo > lo) left.push_back({static_cast<Port>(lo),
                                     static_cast<Port>(c.lo - 1)});
      lo = uint32_t{c.hi} + 1;
      if (lo > r.hi) break;
    }
    if (lo <= r.hi) left.push_back({static_cast<Port>(lo), r.hi});
  }
  return left;
}

absl::StatusOr<std::vector<PortRange>> ParseReservedPorts(
    absl::string_view text) {
  const absl::string_view content = absl::StripAsciiWhitespace(text);
  std::vector<PortRange> ranges;
  if (content.empty()) return ranges;
  for (absl::string_view item : absl::StrSplit(content, ',')) {
    std::pair<absl::string_view, absl::string_view> ends =
        absl::StrSplit(item, absl::MaxSplits('-', 1));
    if (item.find('-') == absl::string_view::npos) ends.second = ends.first;
    uint32_t lo = 0;
    uint32_t hi = 0;
    if (!absl::SimpleAtoi(ends.first, &lo) ||
        !absl::SimpleAtoi(ends.second, &hi) || hi > 65535 || lo > hi) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--reserve-pool=on: cannot parse the reserved ports \"", content,
          "\" (expected ranges like 1000-1010,2000)"));
    }
    ranges.push_back({static_cast<Port>(lo), static_cast<Port>(hi)});
  }
  return MergeRanges(std::move(ranges));
}

std::string ReservedPortsRecordPath(const std::string& db_path) {
  return absl::StrCat(db_path, ".reserved-ports");
}

std::string FormatReservedPorts(const std::vector<PortRange>& ranges) {
  return absl::StrCat(FormatPortRanges(ranges), "\n");
}

ReservationUpdate PlanReservation(const std::vector<PortRange>& current,
                                  const std::vector<PortRange>& ours,
                                  const std::vector<PortRange>& pool) {
  const std::vector<PortRange> others = SubtractRanges(current, ours);
  ReservationUpdate update;
  update.added = SubtractRanges(pool, others);
  std::vector<PortRange> all = others;
  all.insert(all.end(), pool.begin(), pool.end());
  update.write = MergeRanges(std::move(all));
  return update;
}

ReservedPorts::ReservedPorts(std::string path, std::string record_path)
    : path_(std::move(path)), record_path_(std::move(record_path)) {}

ReservedPorts::~ReservedPorts() { (void)Release(); }

absl::Status ReservedPorts::Reserve(const std::vector<PortRange>& pool) {
  absl::MutexLock lock(&mu_);
  return UpdateLocked(pool);
}

absl::Status ReservedPorts::Release() {
  absl::MutexLock lock(&mu_);
  if (added_.empty() && adopted_) return absl::OkStatus();
  return UpdateLocked({});
}

std::vector<PortRange> ReservedPorts::added() const {
  absl::MutexLock lock(&mu_);
  return added_;
}

absl::Status ReservedPorts::UpdateLocked(const std::vector<PortRange>& pool) {
  absl::StatusOr<std::vector<PortRange>> current = ReadReserved(path_);
  if (!current.ok()) return current.status();
  AdoptRecordLocked(*current);
  ReservationUpdate update = PlanReservation(*current, added_, pool);
  if (update.write != *current) {
    if (absl::Status written = WriteReserved(path_, update.write);
        !written.ok()) {
      return written;
    }
  }
  added_ = std::move(update.added);
  WriteRecordLocked();
  return absl::OkStatus();
}

void ReservedPorts::AdoptRecordLocked(const std::vector<PortRange>& current) {
  if (adopted_) return;
  adopted_ = true;
  if (record_path_.empty()) return;
  absl::StatusOr<std::string> text = ReadFile(record_path_);
  if (!text.ok()) return;  // none: nothing was left behind
  absl::StatusOr<std::vector<PortRange>> recorded = ParseReservedPorts(*text);
  if (!recorded.ok()) return;
  // recorded ∩ current: what a previous run added and is still there.
  added_ = SubtractRanges(*recorded, SubtractRanges(*recorded, current));
}

// Best effort: without the record, a crash leaves the ranges to the next
// run as someone else's, which is what happened before it existed.
void ReservedPorts::WriteRecordLocked() {
  if (record_path_.empty()) return;
  if (added_.empty()) {
    unlink(record_path_.c_str());
    return;
  }
  (void)WriteFileAtomically(record_path_, FormatReservedPorts(added_), 0644);
}

}  // namespace portlease
