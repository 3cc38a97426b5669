// The state file next to portleased's database, `<db>.state`: how many live
// leases the server last recorded, and whether it stopped cleanly. At start
// it tells a database that lost leases (deleted, emptied, a damaged WAL
// dropped commits) from one that never had them, so that the server enters
// its recovery window (LeaseManager::StartRecovery) instead of granting the
// ports of jobs still running.
//
// Format: one line, "portlease-state 1 leases=N clean=0|1\n". Created by a
// temporary file renamed into place; while the server runs it is rewritten
// in place (one pwrite of the line at offset 0, a truncate when the line got
// shorter), which costs a fraction of a create and a rename per grant and
// release. A reader takes the first line only, so a crash between the write
// and the truncate still reads as the new line.
#ifndef PORTLEASE_SERVER_DAEMON_LOST_STATE_H_
#define PORTLEASE_SERVER_DAEMON_LOST_STATE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/forwarding_lease_store.h"
#include "server/core/lease_backend.h"
#include "server/core/lease_store.h"

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

// Keeps one state file up to date in place (see the format above): the
// first Write creates it atomically, the next ones overwrite it through the
// descriptor kept open. A file deleted or replaced meanwhile is created
// again. Not thread-safe.
class StateFileWriter {
 public:
  explicit StateFileWriter(std::string path) : path_(std::move(path)) {}
  ~StateFileWriter();
  StateFileWriter(const StateFileWriter&) = delete;
  StateFileWriter& operator=(const StateFileWriter&) = delete;

  // UNAVAILABLE with errno's text on failure (the next Write starts over
  // with a create and a rename).
  absl::Status Write(const RecordedState& state);

 private:
  void Close();

  const std::string path_;
  int fd_ = -1;
};

// Why a start lost state, or "" when it did not: the file recorded more
// live leases than the database holds now (`loaded`: its live and
// draining leases). `db_was_missing`: the database file did not exist or
// was empty before the server opened it. No file: a first start, nothing
// to compare.
std::string LostStateReason(const std::optional<RecordedState>& recorded,
                            uint32_t loaded, bool db_was_missing,
                            const std::string& db_path);

// A LeaseStore that keeps the state file up to date: once armed, every Put
// of a new lease and every Delete rewrites it with the number of leases
// stored (live and draining), before the call returns. The file never
// records more leases than the database holds, so that a crash at any
// point is not taken for a loss: a grant is recorded right after its
// commit, a delete right before it (and recorded back when it fails). At
// worst a crash between the two makes a real loss of one lease go
// unnoticed.
// Until `floor_until` (wall clock) it never records fewer than `floor`:
// during a recovery window, a second crash still finds the loss. A failed
// write is reported through `on_error` and retried at the next change.
// Thread-safe; `inner` must outlive it.
class RecordingLeaseStore : public ForwardingLeaseStore {
 public:
  RecordingLeaseStore(LeaseStore* inner, std::string path,
                      std::function<void(const absl::Status&)> on_error);

  // Starts recording (nothing is written before) and writes the count now.
  void Arm(uint32_t floor, absl::Time floor_until);
  // Writes the final count, marked clean; nothing is recorded afterwards.
  absl::Status WriteClean();

  // LeaseStore: the calls that change the set of stored leases; the rest
  // pass through.
  absl::StatusOr<std::vector<LeaseRecord>> LoadAll() override;
  absl::Status Put(const LeaseRecord& lease) override;
  absl::Status Delete(const std::string& id) override;
  // The audited writes are recorded like Put and Delete.
  absl::Status PutAudited(const LeaseRecord& lease,
                          const AuditEvent& event) override;
  absl::Status DeleteAudited(const std::string& id,
                             const AuditEvent& event) override;

 private:
  // After a committed put of `id`: records the count when it is new.
  void AfterPut(const std::string& id);
  // Around the delete of `id`: Before records the count without it (when
  // stored), After forgets it (`deleted`) or records it back.
  void BeforeDelete(const std::string& id);
  void AfterDelete(const std::string& id, bool deleted);
  // The number of stored leases, deletes in flight not counted.
  uint32_t CountLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecordLocked(bool clean, absl::Status* result = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  const std::function<void(const absl::Status&)> on_error_;
  absl::Mutex mu_;
  absl::flat_hash_set<std::string> ids_ ABSL_GUARDED_BY(mu_);
  // Stored ids whose delete is in flight: a subset of ids_.
  absl::flat_hash_set<std::string> deleting_ ABSL_GUARDED_BY(mu_);
  bool armed_ ABSL_GUARDED_BY(mu_) = false;
  uint32_t floor_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time floor_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::optional<uint32_t> written_ ABSL_GUARDED_BY(mu_);
  StateFileWriter writer_ ABSL_GUARDED_BY(mu_);
};

// At start, once `manager` has loaded the database: compares it with
// `recorded` (the state file as read before the store was opened; an
// unreadable file counts as a loss, fail closed) and, when leases were
// lost, starts the recovery window (`window`; zero: none, only a line
// through `log_error`). Then arms `recording`.
void CheckForLostState(
    const std::string& db_path,
    const absl::StatusOr<std::optional<RecordedState>>& recorded,
    bool db_was_missing, absl::Duration window, LeaseBackend* manager,
    RecordingLeaseStore* recording,
    const std::function<void(std::string)>& log_error);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_DAEMON_LOST_STATE_H_
