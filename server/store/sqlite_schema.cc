#include "server/store/sqlite_schema.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "server/store/lease_codec.h"
#include "server/store/sqlite_statement.h"

namespace portlease {
namespace {

absl::Status MoveNamesAndOwnerIntoLeases(sqlite3* db);

// One step of the migration list: `sql`, then `code` (if any), in one
// transaction.
struct Migration {
  const char* sql;
  absl::Status (*code)(sqlite3* db);
};

// kMigrations[i] brings a database from version i to version i + 1. Append
// new steps; never edit a released one.
constexpr Migration kMigrations[] = {
    // 0 -> 1: the initial schema.
    {R"sql(
      CREATE TABLE leases (
        id BLOB NOT NULL PRIMARY KEY,
        base INTEGER NOT NULL,
        count INTEGER NOT NULL,
        udp INTEGER NOT NULL,
        request_id BLOB NOT NULL,
        created_at_us INTEGER NOT NULL,
        expires_at_us INTEGER NOT NULL,
        ttl_us INTEGER NOT NULL,
        state INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE lease_names (
        lease_id BLOB NOT NULL,
        position INTEGER NOT NULL,
        name BLOB NOT NULL,
        PRIMARY KEY (lease_id, position)
      ) WITHOUT ROWID;
      CREATE TABLE lease_owner (
        lease_id BLOB NOT NULL,
        key BLOB NOT NULL,
        value BLOB NOT NULL,
        PRIMARY KEY (lease_id, key)
      ) WITHOUT ROWID;
      PRAGMA application_id = 1347179333;
    )sql", nullptr},
    // 1 -> 2: ports drained by an administrator.
    {R"sql(
      CREATE TABLE drained_ports (
        port INTEGER NOT NULL PRIMARY KEY
      ) WITHOUT ROWID;
    )sql", nullptr},
    // 2 -> 3: one row per lease. Names and owner move into BLOB columns of
    // `leases` (lease_codec.h) and their tables go.
    {R"sql(
      ALTER TABLE leases ADD COLUMN names BLOB NOT NULL DEFAULT x'';
      ALTER TABLE leases ADD COLUMN owner BLOB NOT NULL DEFAULT x'';
    )sql", MoveNamesAndOwnerIntoLeases},
    // 3 -> 4: who acquired each lease (LeaseRecord::caller); '' for the
    // leases stored before.
    {R"sql(
      ALTER TABLE leases ADD COLUMN caller BLOB NOT NULL DEFAULT x'';
    )sql", nullptr},
    // 4 -> 5: whether a Hold stream held the lease (LeaseRecord::held); 0
    // for the leases stored before.
    {R"sql(
      ALTER TABLE leases ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
    )sql", nullptr},
    // 5 -> 6: the audit trail (AuditEvent), written in the same transaction
    // as the change it records. seq is the rowid: the next is one past the
    // largest, and pruning keeps the newest rows, so a seq is not reused
    // (no AUTOINCREMENT: its sqlite_sequence page would be one more page
    // written per commit).
    {R"sql(
      CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        at_us INTEGER NOT NULL,
        type BLOB NOT NULL,
        lease BLOB NOT NULL,
        base INTEGER NOT NULL,
        count INTEGER NOT NULL,
        owner BLOB NOT NULL,
        port INTEGER NOT NULL,
        actor BLOB NOT NULL,
        privilege BLOB NOT NULL,
        detail BLOB NOT NULL
      );
    )sql", nullptr},
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) ==
              kSqliteSchemaVersion);
static_assert(kSqliteApplicationId == 1347179333);

std::string NotModified(const std::string& path) {
  return absl::StrCat("; ", path, " was not modified");
}

// Runs a query returning one integer.
absl::StatusOr<int64_t> QueryInt(sqlite3* db, const char* sql) {
  absl::StatusOr<SqliteStatement> stmt = SqliteStatement::Prepare(db, sql);
  if (!stmt.ok()) return stmt.status();
  absl::StatusOr<bool> row = stmt->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::InternalError(absl::StrCat(sql, " returned no row"));
  return stmt->ColumnInt64(0);
}

absl::Status CorruptLease(absl::string_view id, absl::string_view what) {
  return absl::DataLossError(absl::StrCat(
      "lease ", absl::CHexEscape(id.substr(0, 8)), ": ", what));
}

// Sets column `column` of lease `id` to `blob`. DATA_LOSS if there is no
// such lease.
absl::Status SetLeaseBlob(SqliteStatement& update, sqlite3* db,
                          const std::string& id, const std::string& blob,
                          absl::string_view column) {
  absl::Status status = update.BindBytes(1, blob);
  if (status.ok()) status = update.BindBytes(2, id);
  if (status.ok()) status = update.Run();
  if (status.ok() && sqlite3_changes(db) != 1) {
    return CorruptLease(id, absl::StrCat(column, " of a missing lease"));
  }
  return status;
}

// Migration 2 -> 3: fills leases.names and leases.owner from the
// lease_names and lease_owner tables, with the checks LoadAll made on them
// (DATA_LOSS naming the lease), then drops those tables.
absl::Status MoveNamesAndOwnerIntoLeases(sqlite3* db) {
  {
    absl::StatusOr<SqliteStatement> select = SqliteStatement::Prepare(
        db,
        "SELECT lease_id, position, name FROM lease_names "
        "ORDER BY lease_id, position");
    if (!select.ok()) return select.status();
    absl::StatusOr<SqliteStatement> update = SqliteStatement::Prepare(
        db, "UPDATE leases SET names = ?1 WHERE id = ?2");
    if (!update.ok()) return update.status();
    std::string id;
    std::vector<std::string> names;
    for (;;) {
      absl::StatusOr<bool> row = select->Step();
      if (!row.ok()) return row.status();
      std::string next_id = *row ? select->ColumnBytes(0) : std::string();
      if (!names.empty() && (!*row || next_id != id)) {
        std::string blob;
        EncodeLeaseNames(names, &blob);
        absl::Status set = SetLeaseBlob(*update, db, id, blob, "names");
        if (!set.ok()) return set;
        names.clear();
      }
      if (!*row) break;
      id = std::move(next_id);
      if (select->ColumnInt64(1) != static_cast<int64_t>(names.size())) {
        return CorruptLease(id, "names are not numbered 0..n-1");
      }
      names.push_back(select->ColumnBytes(2));
    }
  }
  {
    absl::StatusOr<SqliteStatement> select = SqliteStatement::Prepare(
        db, "SELECT lease_id, key, value FROM lease_owner ORDER BY lease_id, key");
    if (!select.ok()) return select.status();
    absl::StatusOr<SqliteStatement> update = SqliteStatement::Prepare(
        db, "UPDATE leases SET owner = ?1 WHERE id = ?2");
    if (!update.ok()) return update.status();
    std::string id;
    Metadata owner;
    for (;;) {
      absl::StatusOr<bool> row = select->Step();
      if (!row.ok()) return row.status();
      std::string next_id = *row ? select->ColumnBytes(0) : std::string();
      if (!owner.empty() && (!*row || next_id != id)) {
        std::string blob;
        EncodeLeaseOwner(owner, &blob);
        absl::Status set = SetLeaseBlob(*update, db, id, blob, "owner");
        if (!set.ok()) return set;
        owner.clear();
      }
      if (!*row) break;
      id = std::move(next_id);
      owner.emplace(select->ColumnBytes(1), select->ColumnBytes(2));
    }
  }
  return SqliteExec(db, "DROP TABLE lease_names; DROP TABLE lease_owner;");
}

}  // namespace

absl::StatusOr<int> CheckSqliteDatabase(sqlite3* db, const std::string& path) {
  // The first read parses the header: a file that isn't SQLite fails here.
  absl::StatusOr<int64_t> version = QueryInt(db, "PRAGMA user_version");
  if (!version.ok()) {
    if (version.status().code() == absl::StatusCode::kDataLoss) {
      return absl::DataLossError(absl::StrCat(
          "database ", path, " is not a SQLite database or is corrupt (",
          version.status().message(), ")", NotModified(path)));
    }
    return absl::Status(version.status().code(),
                        absl::StrCat("can't read database ", path, ": ",
                                     version.status().message(),
                                     NotModified(path)));
  }

  absl::StatusOr<SqliteStatement> check =
      SqliteStatement::Prepare(db, "PRAGMA quick_check");
  if (!check.ok()) return check.status();
  std::vector<std::string> problems;
  while (problems.size() < 10) {
    absl::StatusOr<bool> row = check->Step();
    if (!row.ok()) {
      problems.push_back(std::string(row.status().message()));
      break;
    }
    if (!*row) break;
    std::string line = check->ColumnBytes(0);
    if (line != "ok") {
      problems.push_back(absl::StrReplaceAll(line, {{"\n", "; "}}));
    }
  }
  if (!problems.empty()) {
    return absl::DataLossError(absl::StrCat(
        "database ", path, " is corrupt (quick_check: ",
        absl::StrJoin(problems, "; "), ")", NotModified(path)));
  }

  absl::StatusOr<int64_t> app_id = QueryInt(db, "PRAGMA application_id");
  if (!app_id.ok()) return app_id.status();
  absl::StatusOr<int64_t> tables =
      QueryInt(db, "SELECT count(*) FROM sqlite_schema");
  if (!tables.ok()) return tables.status();
  bool empty = *version == 0 && *app_id == 0 && *tables == 0;
  if (!empty && *app_id != kSqliteApplicationId) {
    return absl::FailedPreconditionError(
        absl::StrCat("database ", path,
                     " is a SQLite database of another application "
                     "(application_id ",
                     *app_id, ")", NotModified(path)));
  }
  if (*version < 0 || *version > kSqliteSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database ", path, " has schema version ", *version,
        " but this portleased supports versions up to ", kSqliteSchemaVersion,
        NotModified(path)));
  }
  return static_cast<int>(*version);
}

absl::Status MigrateSqliteSchema(sqlite3* db, const std::string& path,
                                 int version) {
  for (int v = version; v < kSqliteSchemaVersion; ++v) {
    const Migration& step = kMigrations[v];
    std::string sql = absl::StrCat("BEGIN IMMEDIATE;", step.sql);
    absl::Status status = SqliteExec(db, sql.c_str());
    if (status.ok() && step.code != nullptr) status = step.code(db);
    if (status.ok()) {
      std::string bump = absl::StrCat("PRAGMA user_version = ", v + 1,
                                      ";COMMIT;");
      status = SqliteExec(db, bump.c_str());
    }
    if (!status.ok()) {
      if (!sqlite3_get_autocommit(db)) SqliteExec(db, "ROLLBACK").IgnoreError();
      return absl::Status(
          status.code(),
          absl::StrCat("migrating database ", path, " from schema version ", v,
                       " to ", v + 1, ": ", status.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace portlease
