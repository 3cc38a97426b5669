#include "server/store/sqlite_lease_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "server/store/lease_codec.h"
#include "server/store/sqlite_schema.h"

namespace portlease {
namespace {

constexpr int64_t kMinInt64 = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();

int64_t EncodeTime(absl::Time t) {
  if (t == absl::InfinitePast()) return kMinInt64;
  if (t == absl::InfiniteFuture()) return kMaxInt64;
  return absl::ToUnixMicros(t);
}

absl::Time DecodeTime(int64_t us) {
  if (us == kMinInt64) return absl::InfinitePast();
  if (us == kMaxInt64) return absl::InfiniteFuture();
  return absl::FromUnixMicros(us);
}

int64_t EncodeDuration(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return kMaxInt64;
  if (d == -absl::InfiniteDuration()) return kMinInt64;
  return absl::ToInt64Microseconds(absl::Floor(d, absl::Microseconds(1)));
}

absl::Duration DecodeDuration(int64_t us) {
  if (us == kMaxInt64) return absl::InfiniteDuration();
  if (us == kMinInt64) return -absl::InfiniteDuration();
  return absl::Microseconds(us);
}

// "dir/file" -> "dir"; "file" -> "."; "/file" -> "/".
std::string ParentDirectory(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::Status CheckParentDirectory(const std::string& path) {
  std::string dir = ParentDirectory(path);
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    int err = errno;
    std::string message = absl::StrCat("directory ", dir, " of database ",
                                       path, ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(message);
    return absl::UnavailableError(message);
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, " (parent of database ", path, ") isn't a directory"));
  }
  return absl::OkStatus();
}

// Adds the database path to a status from a call.
absl::Status WithPath(const absl::Status& status, const std::string& path) {
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat("database ", path, ": ", status.message()));
}

// Sets the connection up before its first read: refuses a database SQLite
// would quietly open read-only, sets the busy timeout and, for a writable
// store, the exclusive locking mode.
absl::Status ConfigureConnection(sqlite3* db, const std::string& path,
                                 const SqliteOptions& options) {
  // SQLite quietly falls back to read-only for a file we may not write. Say
  // so now, before reading creates -wal/-shm files with the same mode.
  if (!options.read_only && sqlite3_db_readonly(db, "main") == 1) {
    return absl::UnavailableError(absl::StrCat(
        "database ", path, " is not writable (check its permissions); it was "
        "not modified"));
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(
      db, static_cast<int>(std::min<int64_t>(
              absl::ToInt64Milliseconds(options.busy_timeout),
              std::numeric_limits<int>::max())));

  // The server is the database's only user (the lock file says so): an
  // exclusive lock, taken by the first read and held until close, lets
  // SQLite keep the WAL index in heap memory instead of a mmapped -shm
  // file, whose I/O faults would be SIGBUS. It must be set before the
  // first read of a WAL database. Other processes can't read the file
  // while the store has it open. Read-only stores (no write lock) keep
  // the normal mode.
  if (!options.read_only) {
    absl::Status exclusive = SqliteExec(db, "PRAGMA locking_mode = EXCLUSIVE");
    if (!exclusive.ok()) return WithPath(exclusive, path);
  }
  return absl::OkStatus();
}

// Switches a writable database to WAL mode; UNAVAILABLE if SQLite won't.
absl::Status SwitchToWal(sqlite3* db, const std::string& path) {
  absl::StatusOr<SqliteStatement> wal =
      SqliteStatement::Prepare(db, "PRAGMA journal_mode = WAL");
  if (!wal.ok()) return WithPath(wal.status(), path);
  absl::StatusOr<bool> row = wal->Step();
  if (!row.ok()) return WithPath(row.status(), path);
  std::string mode = *row ? wal->ColumnBytes(0) : "";
  wal->Reset();
  if (mode != "wal") {
    return absl::UnavailableError(absl::StrCat(
        "database ", path, ": can't switch to WAL mode (got \"", mode,
        "\")"));
  }
  return absl::OkStatus();
}

// Checks the file, then (read-write) switches to WAL and migrates the
// schema, or (read-only) requires the current schema; sets the sync mode.
absl::Status PrepareSchema(sqlite3* db, const std::string& path,
                           const SqliteOptions& options) {
  // Nothing is written before the file has passed these checks.
  absl::StatusOr<int> version = CheckSqliteDatabase(db, path);
  if (!version.ok()) return version.status();

  if (options.read_only) {
    if (*version != kSqliteSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "database ", path, " has schema version ", *version, ", not ",
          kSqliteSchemaVersion, "; open it read-write once to migrate it"));
    }
  } else {
    absl::Status wal = SwitchToWal(db, path);
    if (!wal.ok()) return wal;
    absl::Status migrated = MigrateSqliteSchema(db, path, *version);
    if (!migrated.ok()) return migrated;
  }
  const char* sync = options.synchronous == SqliteOptions::Synchronous::kFull
                         ? "PRAGMA synchronous = FULL"
                         : "PRAGMA synchronous = NORMAL";
  absl::Status synced = SqliteExec(db, sync);
  if (!synced.ok()) return WithPath(synced, path);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> SqliteLeaseStore::Open(
    const std::string& path, SqliteOptions options) {
  if (path.empty()) {
    return absl::InvalidArgumentError("empty SQLite database path");
  }
  absl::Status dir_ok = CheckParentDirectory(path);
  if (!dir_ok.ok()) return dir_ok;
  if (options.read_only && access(path.c_str(), F_OK) != 0) {
    return absl::NotFoundError(
        absl::StrCat("database ", path, " doesn't exist (opening read-only)"));
  }

  absl::StatusOr<std::unique_ptr<LockFile>> lock =
      LockFile::Acquire(path + ".lock", absl::StrCat("database ", path));
  if (!lock.ok()) return lock.status();

  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  flags |= options.read_only ? SQLITE_OPEN_READONLY
                             : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  sqlite3* raw_db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw_db, flags, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status =
        SqliteStatus(raw_db, rc, absl::StrCat("opening database ", path));
    sqlite3_close_v2(raw_db);
    return status;
  }
  // From here on the store owns the connection and the lock.
  std::unique_ptr<SqliteLeaseStore> store(
      new SqliteLeaseStore(path, *std::move(lock), raw_db,
                           options.batch_commits, options.max_events));
  sqlite3* db = store->db_.get();
  absl::Status configured = ConfigureConnection(db, path, options);
  if (!configured.ok()) return configured;
  absl::Status schema = PrepareSchema(db, path, options);
  if (!schema.ok()) return schema;

  absl::Status prepared = store->PrepareStatements();
  if (!prepared.ok()) return WithPath(prepared, path);
  if (!options.read_only) {
    absl::MutexLock lock(&store->mu_);
    absl::Status pruned = store->PruneEventsLocked();
    if (!pruned.ok()) return WithPath(pruned, path);
  }
  return store;
}

SqliteLeaseStore::SqliteLeaseStore(std::string path,
                                   std::unique_ptr<LockFile> lock, sqlite3* db,
                                   bool batch_commits, size_t max_events)
    : path_(std::move(path)),
      lock_(std::move(lock)),
      db_(db),
      batch_commits_(batch_commits),
      max_events_(max_events) {}

SqliteLeaseStore::~SqliteLeaseStore() = default;

absl::Status SqliteLeaseStore::PrepareStatements() {
  absl::MutexLock lock(&mu_);
  struct {
    SqliteStatement* stmt;
    const char* sql;
  } const statements[] = {
      {&begin_write_, "BEGIN IMMEDIATE"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&put_lease_,
       "INSERT OR REPLACE INTO leases (id, base, count, udp, request_id, "
       "created_at_us, expires_at_us, ttl_us, state, names, owner, caller, "
       "held) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"},
      {&delete_lease_, "DELETE FROM leases WHERE id = ?1"},
      {&select_leases_,
       "SELECT id, base, count, udp, request_id, created_at_us, "
       "expires_at_us, ttl_us, state, names, owner, caller, held FROM leases"},
      {&insert_drained_,
       "INSERT OR IGNORE INTO drained_ports (port) VALUES (?1)"},
      {&delete_drained_, "DELETE FROM drained_ports WHERE port = ?1"},
      {&select_drained_, "SELECT port FROM drained_ports ORDER BY port"},
      {&insert_event_,
       "INSERT INTO events (at_us, type, lease, base, count, owner, port, "
       "actor, privilege, detail) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"},
      {&select_events_,
       "SELECT seq, at_us, type, lease, base, count, owner, port, actor, "
       "privilege, detail FROM events WHERE seq > ?1 AND at_us >= ?2 "
       "ORDER BY seq LIMIT ?3"},
      {&prune_events_,
       "DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events) - ?1"},
  };
  for (const auto& [stmt, sql] : statements) {
    absl::StatusOr<SqliteStatement> prepared =
        SqliteStatement::Prepare(db_.get(), sql);
    if (!prepared.ok()) return prepared.status();
    *stmt = *std::move(prepared);
  }
  return absl::OkStatus();
}

absl::Status SqliteLeaseStore::Put(const LeaseRecord& lease) {
  PendingWrite write;
  write.put = &lease;
  return Write(&write);
}

absl::Status SqliteLeaseStore::Delete(const std::string& id) {
  PendingWrite write;
  write.remove = &id;
  return Write(&write);
}

absl::Status SqliteLeaseStore::PutAudited(const LeaseRecord& lease,
                                          const AuditEvent& event) {
  PendingWrite write;
  write.put = &lease;
  write.event = &event;
  return Write(&write);
}

absl::Status SqliteLeaseStore::DeleteAudited(const std::string& id,
                                             const AuditEvent& event) {
  PendingWrite write;
  write.remove = &id;
  write.event = &event;
  return Write(&write);
}

absl::Status SqliteLeaseStore::RecordEvent(const AuditEvent& event) {
  PendingWrite write;
  write.event = &event;
  return Write(&write);
}

absl::Status SqliteLeaseStore::Write(PendingWrite* write) {
  if (!batch_commits_) {
    CommitBatch({write});
    return write->status;
  }
  std::vector<PendingWrite*> batch;
  {
    absl::MutexLock lock(&queue_mu_);
    queue_.push_back(write);
    // Wait for a commit that holds `write`, or to be the next committer.
    // Bounded by the commit in progress (busy_timeout, the disk).
    auto done_or_leader = [this, write]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                              queue_mu_) { return write->done || !committing_; };
    queue_mu_.Await(absl::Condition(&done_or_leader));
    if (write->done) return write->status;
    // Not done and nobody committing: `write` is still queued; commit the
    // whole queue.
    committing_ = true;
    batch.swap(queue_);
  }
  CommitBatch(batch);
  {
    absl::MutexLock lock(&queue_mu_);
    for (PendingWrite* w : batch) w->done = true;
    committing_ = false;
  }
  return write->status;
}

void SqliteLeaseStore::CommitBatch(const std::vector<PendingWrite*>& batch) {
  absl::MutexLock lock(&mu_);
  const size_t events_before = unpruned_;
  // A lone write without an event is one statement, which SQLite commits
  // as a transaction of its own.
  if (batch.size() == 1 && (batch[0]->event == nullptr || max_events_ == 0)) {
    batch[0]->status = WithPath(ApplyLocked(*batch[0]), path_);
  } else {
    absl::Status status = TransactionLocked(batch);
    if (status.ok()) {
      for (PendingWrite* w : batch) w->status = absl::OkStatus();
    } else if (batch.size() == 1) {
      batch[0]->status = WithPath(status, path_);
    } else {
      // Each write again, alone, so that only the failing ones fail.
      unpruned_ = events_before;
      for (PendingWrite* w : batch) {
        w->status = WithPath(TransactionLocked({w}), path_);
      }
    }
  }
  if (unpruned_ >= std::max<size_t>(1000, max_events_ / 100)) {
    // Best effort: the oldest events stay a little longer on failure.
    if (PruneEventsLocked().ok()) unpruned_ = 0;
  }
}

absl::Status SqliteLeaseStore::TransactionLocked(
    const std::vector<PendingWrite*>& writes) {
  const size_t events_before = unpruned_;
  absl::Status status = begin_write_.Run();
  for (size_t i = 0; status.ok() && i < writes.size(); ++i) {
    status = ApplyLocked(*writes[i]);
  }
  if (status.ok()) status = commit_.Run();
  if (status.ok()) return status;
  unpruned_ = events_before;
  // SQLite may already have rolled back by itself (e.g. on SQLITE_FULL).
  if (!sqlite3_get_autocommit(db_.get())) rollback_.Run().IgnoreError();
  return status;
}

absl::Status SqliteLeaseStore::ApplyLocked(const PendingWrite& write) {
  absl::Status status;
  if (write.put != nullptr) {
    status = PutLocked(*write.put);
  } else if (write.remove != nullptr) {
    ScopedReset reset(delete_lease_);
    status = delete_lease_.BindBytes(1, *write.remove);
    if (status.ok()) status = delete_lease_.Run();
  }
  if (status.ok() && write.event != nullptr && max_events_ > 0) {
    status = InsertEventLocked(*write.event);
  }
  return status;
}

absl::Status SqliteLeaseStore::InsertEventLocked(const AuditEvent& event) {
  std::string owner;
  EncodeLeaseOwner(event.owner, &owner);
  SqliteStatement& insert = insert_event_;
  ScopedReset reset(insert);
  absl::Status status = insert.BindInt64(1, EncodeTime(event.at));
  if (status.ok()) status = insert.BindBytes(2, event.type);
  if (status.ok()) status = insert.BindBytes(3, event.lease);
  if (status.ok()) status = insert.BindInt64(4, event.base);
  if (status.ok()) status = insert.BindInt64(5, event.count);
  if (status.ok()) status = insert.BindBytes(6, owner);
  if (status.ok()) status = insert.BindInt64(7, event.port);
  if (status.ok()) status = insert.BindBytes(8, event.by);
  if (status.ok()) status = insert.BindBytes(9, event.privilege);
  if (status.ok()) status = insert.BindBytes(10, event.detail);
  if (status.ok()) status = insert.Run();
  if (status.ok()) ++unpruned_;
  return status;
}

absl::Status SqliteLeaseStore::PruneEventsLocked() {
  ScopedReset reset(prune_events_);
  absl::Status status =
      prune_events_.BindInt64(1, static_cast<int64_t>(max_events_));
  if (status.ok()) status = prune_events_.Run();
  return status;
}

absl::StatusOr<std::vector<AuditEvent>> SqliteLeaseStore::LoadEvents(
    const EventQuery& query) {
  if (max_events_ == 0) {
    return absl::UnimplementedError("this store keeps no audit trail");
  }
  absl::MutexLock lock(&mu_);
  std::vector<AuditEvent> out;
  SqliteStatement& select = select_events_;
  ScopedReset reset(select);
  const int64_t limit = static_cast<int64_t>(
      std::min<uint64_t>(query.limit, std::numeric_limits<int64_t>::max()));
  absl::Status status = select.BindInt64(
      1, static_cast<int64_t>(std::min<uint64_t>(
             query.after_seq, std::numeric_limits<int64_t>::max())));
  if (status.ok()) status = select.BindInt64(2, EncodeTime(query.since));
  if (status.ok()) status = select.BindInt64(3, limit);
  if (!status.ok()) return WithPath(status, path_);
  for (;;) {
    absl::StatusOr<bool> row = select.Step();
    if (!row.ok()) return WithPath(row.status(), path_);
    if (!*row) break;
    AuditEvent event;
    const int64_t seq = select.ColumnInt64(0);
    const int64_t base = select.ColumnInt64(4);
    const int64_t count = select.ColumnInt64(5);
    const int64_t port = select.ColumnInt64(7);
    absl::StatusOr<Metadata> owner = DecodeLeaseOwner(select.ColumnBytes(6));
    if (seq <= 0 || base < 0 || base > 65535 || count < 0 ||
        count > 65536 || port < 0 || port > 65535 || !owner.ok()) {
      return WithPath(absl::DataLossError(absl::StrCat(
                          "event ", seq, " does not decode",
                          owner.ok() ? "" : ": ",
                          owner.ok() ? "" : owner.status().message())),
                      path_);
    }
    event.seq = static_cast<uint64_t>(seq);
    event.at = DecodeTime(select.ColumnInt64(1));
    event.type = select.ColumnBytes(2);
    event.lease = select.ColumnBytes(3);
    event.base = static_cast<Port>(base);
    event.count = static_cast<uint32_t>(count);
    event.owner = *std::move(owner);
    event.port = static_cast<Port>(port);
    event.by = select.ColumnBytes(8);
    event.privilege = select.ColumnBytes(9);
    event.detail = select.ColumnBytes(10);
    out.push_back(std::move(event));
  }
  return out;
}

absl::Status SqliteLeaseStore::PutLocked(const LeaseRecord& lease) {
  std::string names;
  EncodeLeaseNames(lease.names, &names);
  std::string owner;
  EncodeLeaseOwner(lease.owner, &owner);
  SqliteStatement& put = put_lease_;
  ScopedReset reset(put);
  absl::Status status = put.BindBytes(1, lease.id);
  if (status.ok()) status = put.BindInt64(2, lease.base);
  if (status.ok()) status = put.BindInt64(3, lease.count);
  if (status.ok()) status = put.BindInt64(4, lease.udp ? 1 : 0);
  if (status.ok()) status = put.BindBytes(5, lease.request_id);
  if (status.ok()) status = put.BindInt64(6, EncodeTime(lease.created_at));
  if (status.ok()) status = put.BindInt64(7, EncodeTime(lease.expires_at));
  if (status.ok()) status = put.BindInt64(8, EncodeDuration(lease.ttl));
  if (status.ok()) {
    status = put.BindInt64(9, static_cast<int64_t>(lease.state));
  }
  if (status.ok()) status = put.BindBytes(10, names);
  if (status.ok()) status = put.BindBytes(11, owner);
  if (status.ok()) status = put.BindBytes(12, lease.caller);
  if (status.ok()) status = put.BindInt64(13, lease.held ? 1 : 0);
  if (status.ok()) status = put.Run();
  return status;
}


absl::StatusOr<std::vector<Port>> SqliteLeaseStore::LoadDrainedPorts() {
  absl::MutexLock lock(&mu_);
  std::vector<Port> out;
  ScopedReset reset(select_drained_);
  for (;;) {
    absl::StatusOr<bool> row = select_drained_.Step();
    if (!row.ok()) return WithPath(row.status(), path_);
    if (!*row) break;
    const int64_t port = select_drained_.ColumnInt64(0);
    if (port <= 0 || port > 65535) {
      return WithPath(absl::DataLossError(absl::StrCat(
                          "drained port ", port, " is not a port number")),
                      path_);
    }
    out.push_back(static_cast<Port>(port));
  }
  return out;
}

absl::Status SqliteLeaseStore::SetPortDrained(Port port, bool drained) {
  absl::MutexLock lock(&mu_);
  SqliteStatement& stmt = drained ? insert_drained_ : delete_drained_;
  ScopedReset reset(stmt);
  absl::Status status = stmt.BindInt64(1, port);
  if (status.ok()) status = stmt.Run();
  return WithPath(status, path_);
}

absl::StatusOr<std::vector<LeaseRecord>> SqliteLeaseStore::LoadAll() {
  absl::MutexLock lock(&mu_);
  std::vector<LeaseRecord> out;
  absl::Status status = LoadLocked(out);
  if (!status.ok()) return WithPath(status, path_);
  return out;
}

absl::Status SqliteLeaseStore::LoadLocked(std::vector<LeaseRecord>& out) {
  auto corrupt = [](absl::string_view id, absl::string_view what) {
    return absl::DataLossError(absl::StrCat(
        "lease ", absl::CHexEscape(id.substr(0, 8)), ": ", what));
  };
  // One statement, so one read transaction: a consistent snapshot.
  ScopedReset reset(select_leases_);
  for (;;) {
    absl::StatusOr<bool> row = select_leases_.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    SqliteStatement& s = select_leases_;
    LeaseRecord lease;
    lease.id = s.ColumnBytes(0);
    int64_t base = s.ColumnInt64(1);
    int64_t count = s.ColumnInt64(2);
    int64_t udp = s.ColumnInt64(3);
    int64_t state = s.ColumnInt64(8);
    int64_t held = s.ColumnInt64(12);
    if (base < 0 || base > 65535) return corrupt(lease.id, "invalid base");
    if (count < 0 || count > 65536) return corrupt(lease.id, "invalid count");
    if (udp != 0 && udp != 1) return corrupt(lease.id, "invalid udp flag");
    if (held != 0 && held != 1) return corrupt(lease.id, "invalid held flag");
    if (state != static_cast<int64_t>(LeaseState::kLive) &&
        state != static_cast<int64_t>(LeaseState::kDraining)) {
      return corrupt(lease.id, absl::StrCat("invalid state ", state));
    }
    absl::StatusOr<std::vector<std::string>> names =
        DecodeLeaseNames(s.ColumnView(9));
    if (!names.ok()) return corrupt(lease.id, names.status().message());
    absl::StatusOr<Metadata> owner = DecodeLeaseOwner(s.ColumnView(10));
    if (!owner.ok()) return corrupt(lease.id, owner.status().message());
    lease.base = static_cast<Port>(base);
    lease.count = static_cast<uint32_t>(count);
    lease.udp = udp == 1;
    lease.request_id = s.ColumnBytes(4);
    lease.created_at = DecodeTime(s.ColumnInt64(5));
    lease.expires_at = DecodeTime(s.ColumnInt64(6));
    lease.ttl = DecodeDuration(s.ColumnInt64(7));
    lease.state = static_cast<LeaseState>(state);
    lease.names = *std::move(names);
    lease.owner = *std::move(owner);
    lease.caller = s.ColumnBytes(11);
    lease.held = held == 1;
    out.push_back(std::move(lease));
  }
  return absl::OkStatus();
}

}  // namespace portlease
