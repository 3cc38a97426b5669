#include "server/store/sqlite_schema.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "server/store/sqlite_statement.h"

namespace portlease {
namespace {

// kMigrations[i] brings a database from version i to version i + 1. Append
// new steps; never edit a released one.
constexpr const char* kMigrations[] = {
    // 0 -> 1: the initial schema.
    R"sql(
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
    )sql",
    // 1 -> 2: ports drained by an administrator.
    R"sql(
      CREATE TABLE drained_ports (
        port INTEGER NOT NULL PRIMARY KEY
      ) WITHOUT ROWID;
    )sql",
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
    std::string sql = absl::StrCat("BEGIN IMMEDIATE;", kMigrations[v],
                                   "PRAGMA user_version = ", v + 1,
                                   ";COMMIT;");
    absl::Status status = SqliteExec(db, sql.c_str());
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
