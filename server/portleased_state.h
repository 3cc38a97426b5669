// The state file next to portleased's database, `<db>.state`: how many live
// leases the server last recorded, and whether it stopped cleanly. At start
// it tells a database that lost leases (deleted, emptied, a damaged WAL
// dropped commits) from one that never had them, so that the server enters
// its recovery window (LeaseManager::StartRecovery) instead of granting the
// ports of jobs still running.
//
// Format: one line, "portlease-state 1 leases=N clean=0|1\n". Written to a
// temporary file and renamed over the old one, so a reader sees the old or
// the new line, never half of one.
#ifndef PORTLEASE_SERVER_PORTLEASED_STATE_H_
#define PORTLEASE_SERVER_PORTLEASED_STATE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/lease_manager.h"

namespace portlease {

struct RecordedState {
  // Live leases when the file was written.
  uint32_t leases = 0;
  // Written at a clean shutdown (the count is exact), not while running.
  bool clean = false;
};

// `<db>.state`.
std::string StateFilePath(const std::string& db_path);

// The recorded state; nullopt when there is no file. DATA_LOSS naming the
// file when it cannot be parsed; UNAVAILABLE when it cannot be read.
absl::StatusOr<std::optional<RecordedState>> ReadStateFile(
    const std::string& path);

// Writes `state` atomically (temporary file, then rename). UNAVAILABLE with
// errno's text on failure; the old file is then unchanged.
absl::Status WriteStateFile(const std::string& path,
                            const RecordedState& state);

// Why a start lost state, or "" when it did not: the file recorded more
// live leases than the database holds now (`loaded`: its live and
// draining leases). `db_was_missing`: the database file did not exist or
// was empty before the server opened it. No file: a first start, nothing
// to compare.
std::string LostStateReason(const std::optional<RecordedState>& recorded,
                            uint32_t loaded, bool db_was_missing,
                            const std::string& db_path);

// Keeps the state file up to date while the server runs: every `interval`
// it asks `live` (the live lease count) and rewrites the file when the
// count changed. While `recovering` says true, it never records fewer
// leases than the file said at start, so that a second crash during the
// recovery window still finds the loss. Thread-safe.
class StateRecorder {
 public:
  StateRecorder(std::string path, uint32_t recorded_at_start,
                std::function<uint32_t()> live,
                std::function<bool()> recovering, absl::Duration interval);
  // Stops the thread (without writing).
  ~StateRecorder();
  StateRecorder(const StateRecorder&) = delete;
  StateRecorder& operator=(const StateRecorder&) = delete;

  // Stops the thread and writes the final, clean count.
  absl::Status StopClean();

 private:
  void Loop();
  // The count to record now.
  uint32_t Count();

  const std::string path_;
  const uint32_t recorded_at_start_;
  const std::function<uint32_t()> live_;
  const std::function<bool()> recovering_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<uint32_t> written_;  // touched by the thread only
  std::thread thread_;
};

// At start, once `manager` has loaded the database: compares it with the
// state file and, when leases were lost, logs why through `log_error` and
// starts the recovery window (`window`; zero: none, only the log line). An
// unreadable state file counts as a loss (fail closed). Returns the
// recorder that keeps the file up to date from now on.
std::unique_ptr<StateRecorder> CheckForLostState(
    const std::string& db_path, bool db_was_missing, absl::Duration window,
    LeaseManager* manager, const std::function<void(std::string)>& log_error);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_PORTLEASED_STATE_H_
