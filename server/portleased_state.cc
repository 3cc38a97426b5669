#include "server/portleased_state.h"

#include <fcntl.h>
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
  absl::string_view line = absl::StripSuffix(text, "\n");
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

StateRecorder::StateRecorder(std::string path, uint32_t recorded_at_start,
                             std::function<uint32_t()> live,
                             std::function<bool()> recovering,
                             absl::Duration interval)
    : path_(std::move(path)),
      recorded_at_start_(recorded_at_start),
      live_(std::move(live)),
      recovering_(std::move(recovering)),
      interval_(interval) {
  thread_ = std::thread([this] { Loop(); });
}

StateRecorder::~StateRecorder() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

uint32_t StateRecorder::Count() {
  const uint32_t live = live_();
  return recovering_() ? std::max(live, recorded_at_start_) : live;
}

void StateRecorder::Loop() {
  while (true) {
    const uint32_t count = Count();
    if (written_ != count) {
      // A failure is retried at the next pass; the file stays as it was.
      if (WriteStateFile(path_, {count, false}).ok()) written_ = count;
    }
    absl::MutexLock lock(&mu_);
    auto stopped = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stop_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&stopped), interval_);
    if (stop_) return;
  }
}

absl::Status StateRecorder::StopClean() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
  return WriteStateFile(path_, {Count(), true});
}

std::unique_ptr<StateRecorder> CheckForLostState(
    const std::string& db_path, bool db_was_missing, absl::Duration window,
    LeaseManager* manager, const std::function<void(std::string)>& log_error) {
  const std::string path = StateFilePath(db_path);
  const PoolStats stats = manager->Stats();
  const uint32_t loaded = stats.live_leases + stats.draining_leases;
  absl::StatusOr<std::optional<RecordedState>> recorded = ReadStateFile(path);
  std::string why;
  uint32_t recorded_leases = 0;
  if (!recorded.ok()) {
    why = absl::StrCat(recorded.status().message(),
                       "; cannot tell whether leases were lost");
  } else {
    why = LostStateReason(*recorded, loaded, db_was_missing, db_path);
    if (recorded->has_value()) recorded_leases = (*recorded)->leases;
  }
  if (!why.empty()) {
    if (window > absl::ZeroDuration()) {
      manager->StartRecovery(window, why);
    } else {
      log_error(absl::StrCat(
          "lost state: ", why,
          "; --recovery-window=0s: granting at once, possibly ports of jobs "
          "still running"));
    }
  }
  return std::make_unique<StateRecorder>(
      path, recorded_leases,
      [manager] { return manager->Stats().live_leases; },
      [manager] { return manager->Recovering(); }, absl::Milliseconds(250));
}

}  // namespace portlease
