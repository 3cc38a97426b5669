// SqliteLeaseStore: the durable LeaseStore, one SQLite database file in WAL
// mode, owned by one process at a time.
//
// Example:
//   absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
//       SqliteLeaseStore::Open("/var/lib/portlease/leases.db", {});
//   if (!store.ok()) return store.status();
//   absl::Status put = (*store)->Put(lease);
//
// The audit trail (LeaseStore::PutAudited, DeleteAudited, RecordEvent) is
// the `events` table: an event is inserted in the transaction of its change,
// so the change and its event commit together; the newest
// SqliteOptions::max_events are kept.
//
// Files: `<path>` (the database), `<path>-wal` (SQLite's write-ahead log,
// present while open; its index lives in the process's memory: the
// connection runs in exclusive locking mode, so there is no mmapped -shm
// file and other processes can't read the database while it is open;
// read_only stores excepted) and `<path>.lock` (an
// flock(2) taken at Open so that two servers can't share one database; it
// holds the owner's pid and is left behind after close). The parent directory
// must already exist.
//
// Open never rewrites or recreates a file it can't use: a corrupt file or a
// file that isn't a portlease database is refused and left byte-for-byte as
// it was. Schema: see sqlite_schema.h; older schema versions are migrated at
// Open.
//
// Times are stored with microsecond precision (rounded down); the infinite
// past and future round-trip exactly.
//
// Errors of Put/Delete/LoadAll (and of the drained-port calls), as the LeaseStore contract says: UNAVAILABLE
// for failed writes and reads (disk full, I/O error, read-only file or
// store, database locked by another connection for longer than
// busy_timeout), with SQLite's message; DATA_LOSS for corruption found while
// reading (an invalid row, or names/owner blobs that don't decode; the
// message names the lease by its id prefix); INTERNAL otherwise. Each Put and
// Delete is one statement (a lease is one row); after a failed call its
// change is rolled back and the store is as if the call had not been made.
//
// Group commit (SqliteOptions::batch_commits, on by default): Put and Delete
// calls made at the same time from several threads share one transaction.
// The first caller commits alone; callers arriving while a commit runs
// queue up, and the first of them commits the whole queue in one
// transaction once that commit is done. Every call still returns only
// after the transaction holding its change has committed, so the
// durability of each call is unchanged, while a burst of N changes costs
// one commit (one WAL append, one fsync with kFull) instead of N. Writes
// are applied in the order they were queued. If a shared transaction
// fails, each of its writes is retried in a transaction of its own, so a
// call fails only for its own reason. A single caller sees no difference.
//
// Thread-safe: calls are serialized on one connection.
#ifndef PORTLEASE_SERVER_STORE_SQLITE_LEASE_STORE_H_
#define PORTLEASE_SERVER_STORE_SQLITE_LEASE_STORE_H_

#include <sqlite3.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/lease.h"
#include "server/core/lease_store.h"
#include "server/store/lock_file.h"
#include "server/store/sqlite_statement.h"

namespace portlease {

struct SqliteOptions {
  // When a commit is made durable (SQLite's PRAGMA synchronous, in WAL mode).
  enum class Synchronous {
    // A commit is in the OS (the WAL file) before Put/Delete returns, and is
    // fsynced at checkpoints. Survives kill -9 of the process; a power loss
    // or kernel crash may lose the last few commits, though the database
    // stays consistent. The cheap choice for CI hosts, whose leases don't
    // outlive a reboot anyway.
    kNormal,
    // The WAL is fsynced on every commit: also survives power loss, at the
    // cost of one fsync per Put/Delete (see sqlite_store_benchmark).
    kFull,
  };
  Synchronous synchronous = Synchronous::kNormal;

  // How long a call waits for a lock held by another connection (e.g. a
  // sqlite3 shell inspecting the file) before failing with UNAVAILABLE.
  absl::Duration busy_timeout = absl::Seconds(2);

  // Group commit: concurrent Put/Delete calls share a transaction (see
  // above). False: one transaction per call, one after the other.
  bool batch_commits = true;

  // Open the existing database without ever writing to it: no migration,
  // and every Put/Delete fails with UNAVAILABLE. The database must exist and
  // already have the current schema. The lock is still taken.
  bool read_only = false;

  // The audit trail keeps the newest `max_events` events (pruned every
  // thousand or so commits, and at Open). 0: no events are recorded.
  size_t max_events = kDefaultMaxAuditEvents;
};

class SqliteLeaseStore : public LeaseStore {
 public:
  // Opens (creating if absent, unless read_only) the database at `path`.
  // Errors:
  //   INVALID_ARGUMENT     empty path;
  //   NOT_FOUND            the parent directory doesn't exist, or read_only
  //                        and the file doesn't exist;
  //   FAILED_PRECONDITION  "database X is in use by another portleased
  //                        (pid N)"; another application's database; a
  //                        schema newer than this build; read_only and the
  //                        schema needs migrating;
  //   DATA_LOSS            not a SQLite database, or corrupt (quick_check
  //                        failed); the message names the path and says it
  //                        was not modified; or an older schema's rows
  //                        can't be migrated (the database is left at its
  //                        old version, see MigrateSqliteSchema);
  //   UNAVAILABLE          the file or lock can't be opened, read or
  //                        written, or the file isn't writable (and not
  //                        read_only).
  static absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> Open(
      const std::string& path, SqliteOptions options = {});

  ~SqliteLeaseStore() override;
  SqliteLeaseStore(const SqliteLeaseStore&) = delete;
  SqliteLeaseStore& operator=(const SqliteLeaseStore&) = delete;

  // LeaseStore.
  absl::StatusOr<std::vector<LeaseRecord>> LoadAll() override;
  absl::Status Put(const LeaseRecord& lease) override;
  absl::Status Delete(const std::string& id) override;
  absl::StatusOr<std::vector<Port>> LoadDrainedPorts() override;
  absl::Status SetPortDrained(Port port, bool drained) override;
  // The event rides in the transaction of its change (group commit
  // included).
  absl::Status PutAudited(const LeaseRecord& lease,
                          const AuditEvent& event) override;
  absl::Status DeleteAudited(const std::string& id,
                             const AuditEvent& event) override;
  absl::Status RecordEvent(const AuditEvent& event) override;
  // DATA_LOSS for a row that does not decode.
  absl::StatusOr<std::vector<AuditEvent>> LoadEvents(
      const EventQuery& query) override;

  const std::string& path() const { return path_; }

 private:
  struct DbCloser {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };

  // One Put (`put` set) or Delete (`remove` set), with its audit `event`
  // or an event alone, waiting to be committed.
  struct PendingWrite {
    const LeaseRecord* put = nullptr;
    const std::string* remove = nullptr;
    const AuditEvent* event = nullptr;
    absl::Status status;
    bool done = false;  // guarded by queue_mu_
  };

  SqliteLeaseStore(std::string path, std::unique_ptr<LockFile> lock,
                   sqlite3* db, bool batch_commits, size_t max_events);
  absl::Status PrepareStatements();
  // Commits `write`, alone or with the writes queued alongside it; returns
  // its status once the transaction holding it has committed.
  absl::Status Write(PendingWrite* write);
  // Commits the writes in one transaction (each in its own if that fails)
  // and sets their status.
  void CommitBatch(const std::vector<PendingWrite*>& batch);
  absl::Status ApplyLocked(const PendingWrite& write)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The writes in one transaction: all committed, or none.
  absl::Status TransactionLocked(const std::vector<PendingWrite*>& writes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InsertEventLocked(const AuditEvent& event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops the oldest events beyond max_events_.
  absl::Status PruneEventsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status PutLocked(const LeaseRecord& lease)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status LoadLocked(std::vector<LeaseRecord>& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  // Destroyed in reverse order: statements, then the connection (which
  // checkpoints the WAL), then the lock.
  const std::unique_ptr<LockFile> lock_;
  const std::unique_ptr<sqlite3, DbCloser> db_;
  const bool batch_commits_;
  const size_t max_events_;

  // The group commit queue. Never held while waiting for mu_.
  absl::Mutex queue_mu_;
  std::vector<PendingWrite*> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool committing_ ABSL_GUARDED_BY(queue_mu_) = false;

  // A lone write runs one of these statements, which SQLite makes one
  // transaction of its own (autocommit); a batch runs them between
  // begin_write_ and commit_.
  absl::Mutex mu_;
  SqliteStatement begin_write_ ABSL_GUARDED_BY(mu_);
  SqliteStatement commit_ ABSL_GUARDED_BY(mu_);
  SqliteStatement rollback_ ABSL_GUARDED_BY(mu_);
  SqliteStatement put_lease_ ABSL_GUARDED_BY(mu_);
  SqliteStatement delete_lease_ ABSL_GUARDED_BY(mu_);
  SqliteStatement select_leases_ ABSL_GUARDED_BY(mu_);
  SqliteStatement insert_drained_ ABSL_GUARDED_BY(mu_);
  SqliteStatement delete_drained_ ABSL_GUARDED_BY(mu_);
  SqliteStatement select_drained_ ABSL_GUARDED_BY(mu_);
  SqliteStatement insert_event_ ABSL_GUARDED_BY(mu_);
  SqliteStatement select_events_ ABSL_GUARDED_BY(mu_);
  SqliteStatement prune_events_ ABSL_GUARDED_BY(mu_);
  // Events inserted since the last prune.
  size_t unpruned_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_STORE_SQLITE_LEASE_STORE_H_
