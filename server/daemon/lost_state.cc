#include "server/daemon/lost_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace portlease {
namespace {

constexpr char kMagic[] = "portlease-state 1";

absl::Status Errno(absl::string_view what, const std::string& path, int err) {
  return absl::UnavailableError(
      absl::StrCat(what, " ", path, ": ", std::strerror(err)));
}

}  // namespace

std::string StateFilePath(const std::string& db_path) {
  return db_path + ".state";
}

absl::StatusOr<std::optional<RecordedState>> ReadStateFile(
    const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<RecordedState>();
    return Errno("cannot read", path, errno);
  }
  char buffer[256];
  ssize_t n;
  do {
    n = read(fd, buffer, sizeof(buffer) - 1);
  } while (n < 0 && errno == EINTR);
  const int err = errno;
  close(fd);
  if (n < 0) return Errno("cannot read", path, err);
  absl::string_view text(buffer, static_cast<size_t>(n));
  auto bad = [&path, text] {
    return absl::DataLossError(absl::StrCat(
        "state file ", path, " is not a portleased state file (\"",
        absl::CHexEscape(text.substr(0, 64)), "\")"));
  };
  // The first line: an in-place rewrite interrupted before its truncate
  // leaves the end of a longer old line after it.
  absl::string_view line = text.substr(0, text.find('\n'));
  if (!absl::ConsumePrefix(&line, kMagic)) return bad();
  RecordedState state;
  bool have_leases = false;
  bool have_clean = false;
  for (absl::string_view field : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&field, "leases=")) {
      have_leases = absl::SimpleAtoi(field, &state.leases);
    } else if (absl::ConsumePrefix(&field, "clean=")) {
      have_clean = field == "0" || field == "1";
      state.clean = field == "1";
    }
  }
  if (!have_leases || !have_clean) return bad();
  return std::optional<RecordedState>(state);
}

absl::Status WriteStateFile(const std::string& path,
                            const RecordedState& state) {
  const std::string temp = absl::StrCat(path, ".tmp");
  const std::string line = absl::StrCat(kMagic, " leases=", state.leases,
                                        " clean=", state.clean ? 1 : 0, "\n");
  const int fd =
      open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot write", temp, errno);
  ssize_t n;
  do {
    n = write(fd, line.data(), line.size());
  } while (n < 0 && errno == EINTR);
  const int err = errno;
  if (close(fd) != 0 || n != static_cast<ssize_t>(line.size())) {
    unlink(temp.c_str());
    return Errno("cannot write", temp, n < 0 ? err : EIO);
  }
  if (rename(temp.c_str(), path.c_str()) != 0) {
    const int rename_err = errno;
    unlink(temp.c_str());
    return Errno("cannot replace", path, rename_err);
  }
  return absl::OkStatus();
}

StateFileWriter::~StateFileWriter() { Close(); }

void StateFileWriter::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

absl::Status StateFileWriter::Write(const RecordedState& state) {
  const std::string line = absl::StrCat(kMagic, " leases=", state.leases,
                                        " clean=", state.clean ? 1 : 0, "\n");
  struct stat st = {};
  if (fd_ >= 0 && (fstat(fd_, &st) != 0 || st.st_nlink == 0)) Close();
  if (fd_ < 0) {
    // A new file, whole or not at all; then kept open for the next lines.
    absl::Status written = WriteStateFile(path_, state);
    if (!written.ok()) return written;
    fd_ = open(path_.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd_ < 0) return Errno("cannot open", path_, errno);
    return absl::OkStatus();
  }
  ssize_t n;
  do {
    n = pwrite(fd_, line.data(), line.size(), 0);
  } while (n < 0 && errno == EINTR);
  int err = errno;
  const off_t size = static_cast<off_t>(line.size());
  if (n == size && size < st.st_size && ftruncate(fd_, size) != 0) {
    err = errno;
    n = -1;
  }
  if (n != size) {
    Close();
    return Errno("cannot write", path_, n < 0 ? err : EIO);
  }
  return absl::OkStatus();
}

std::string LostStateReason(const std::optional<RecordedState>& recorded,
                            uint32_t loaded, bool db_was_missing,
                            const std::string& db_path) {
  if (!recorded.has_value() || loaded >= recorded->leases) return "";
  return absl::StrCat(
      "database ", db_path,
      db_was_missing ? " was missing or empty" : " lost leases", ": it holds ",
      loaded, " lease", loaded == 1 ? "" : "s", ", ", recorded->leases,
      " were recorded ",
      recorded->clean ? "at the last clean shutdown" : "while it last ran",
      " (", StateFilePath(db_path), ")");
}

RecordingLeaseStore::RecordingLeaseStore(
    LeaseStore* inner, std::string path,
    std::function<void(const absl::Status&)> on_error)
    : ForwardingLeaseStore(inner),
      path_(std::move(path)),
      on_error_(std::move(on_error)),
      writer_(path_) {}

void RecordingLeaseStore::Arm(uint32_t floor, absl::Time floor_until) {
  absl::MutexLock lock(&mu_);
  armed_ = true;
  floor_ = floor;
  floor_until_ = floor_until;
  RecordLocked(/*clean=*/false);
}

absl::Status RecordingLeaseStore::WriteClean() {
  absl::MutexLock lock(&mu_);
  absl::Status result;
  RecordLocked(/*clean=*/true, &result);
  armed_ = false;
  return result;
}

void RecordingLeaseStore::RecordLocked(bool clean, absl::Status* result) {
  if (!armed_) return;
  uint32_t count = CountLocked();
  if (absl::Now() < floor_until_) count = std::max(count, floor_);
  if (!clean && written_ == count) return;
  absl::Status written = writer_.Write({count, clean});
  if (written.ok()) {
    written_ = count;
  } else if (result == nullptr && on_error_) {
    on_error_(written);
  }
  if (result != nullptr) *result = written;
}

absl::StatusOr<std::vector<LeaseRecord>> RecordingLeaseStore::LoadAll() {
  absl::StatusOr<std::vector<LeaseRecord>> all = inner()->LoadAll();
  if (!all.ok()) return all;
  absl::MutexLock lock(&mu_);
  ids_.clear();
  deleting_.clear();
  for (const LeaseRecord& lease : *all) ids_.insert(lease.id);
  return all;
}

uint32_t RecordingLeaseStore::CountLocked() const {
  return static_cast<uint32_t>(ids_.size() - deleting_.size());
}

void RecordingLeaseStore::AfterPut(const std::string& id) {
  absl::MutexLock lock(&mu_);
  if (ids_.insert(id).second) RecordLocked(/*clean=*/false);
}

void RecordingLeaseStore::BeforeDelete(const std::string& id) {
  absl::MutexLock lock(&mu_);
  if (ids_.contains(id) && deleting_.insert(id).second) {
    RecordLocked(/*clean=*/false);
  }
}

void RecordingLeaseStore::AfterDelete(const std::string& id, bool deleted) {
  absl::MutexLock lock(&mu_);
  const bool was_counted_out = deleting_.erase(id) > 0;
  if (deleted) {
    ids_.erase(id);  // recorded before the commit
  } else if (was_counted_out) {
    RecordLocked(/*clean=*/false);  // it is still stored
  }
}

absl::Status RecordingLeaseStore::Put(const LeaseRecord& lease) {
  absl::Status status = inner()->Put(lease);
  if (status.ok()) AfterPut(lease.id);
  return status;
}

absl::Status RecordingLeaseStore::Delete(const std::string& id) {
  BeforeDelete(id);
  absl::Status status = inner()->Delete(id);
  AfterDelete(id, status.ok());
  return status;
}

absl::Status RecordingLeaseStore::PutAudited(const LeaseRecord& lease,
                                             const AuditEvent& event) {
  absl::Status status = inner()->PutAudited(lease, event);
  if (status.ok()) AfterPut(lease.id);
  return status;
}

absl::Status RecordingLeaseStore::DeleteAudited(const std::string& id,
                                                const AuditEvent& event) {
  BeforeDelete(id);
  absl::Status status = inner()->DeleteAudited(id, event);
  AfterDelete(id, status.ok());
  return status;
}

void CheckForLostState(
    const std::string& db_path,
    const absl::StatusOr<std::optional<RecordedState>>& recorded,
    bool db_was_missing, absl::Duration window, LeaseBackend* manager,
    RecordingLeaseStore* recording,
    const std::function<void(std::string)>& log_error) {
  const PoolStats stats = manager->Stats();
  const uint32_t loaded = stats.live_leases + stats.draining_leases;
  std::string why;
  uint32_t recorded_leases = 0;
  if (!recorded.ok()) {
    why = absl::StrCat(recorded.status().message(),
                       "; cannot tell whether leases were lost");
  } else {
    why = LostStateReason(*recorded, loaded, db_was_missing, db_path);
    if (recorded->has_value()) recorded_leases = (*recorded)->leases;
  }
  absl::Time floor_until = absl::InfinitePast();
  if (!why.empty()) {
    if (window > absl::ZeroDuration()) {
      manager->StartRecovery(window, why);
      floor_until = absl::Now() + window;
    } else {
      log_error(absl::StrCat(
          "lost state: ", why,
          "; --recovery-window=0s: granting at once, possibly ports of jobs "
          "still running"));
    }
  }
  recording->Arm(recorded_leases, floor_until);
}

}  // namespace portlease
