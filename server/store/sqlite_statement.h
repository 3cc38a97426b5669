// Small RAII helpers over the SQLite C API, private to the store layer:
// a prepared statement that is reset after each use, and the mapping from
// SQLite result codes to absl::Status.
#ifndef PORTLEASE_SERVER_STORE_SQLITE_STATEMENT_H_
#define PORTLEASE_SERVER_STORE_SQLITE_STATEMENT_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace portlease {

// Maps a failed SQLite result code to a status:
//   SQLITE_CORRUPT, SQLITE_NOTADB                      -> DATA_LOSS
//   SQLITE_FULL, IOERR, READONLY, BUSY, LOCKED,
//   CANTOPEN, PERM, NOMEM, PROTOCOL                    -> UNAVAILABLE
//   anything else                                      -> INTERNAL
// The message is "<what>: <sqlite message> (<code name>)". `db` may be null;
// then only the code's generic description is used.
absl::Status SqliteStatus(sqlite3* db, int rc, absl::string_view what);

// Runs one or more SQL statements that return no rows.
absl::Status SqliteExec(sqlite3* db, const char* sql);

// A prepared statement, finalized on destruction. Not thread-safe: the owner
// serializes use. Bind* take 1-based parameter indexes; Column* 0-based.
class SqliteStatement {
 public:
  // Prepares `sql` (one statement) for repeated use.
  static absl::StatusOr<SqliteStatement> Prepare(sqlite3* db,
                                                 const char* sql);

  SqliteStatement() = default;
  SqliteStatement(SqliteStatement&&) = default;
  SqliteStatement& operator=(SqliteStatement&&) = default;

  // Bind copies (SQLITE_TRANSIENT), so arguments need not outlive the call.
  absl::Status BindInt64(int index, int64_t value);
  // Binds as a BLOB, so any bytes (NULs, invalid UTF-8) round-trip.
  absl::Status BindBytes(int index, absl::string_view value);

  // Steps once. Returns true if a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Steps a statement expected to return no rows, then resets it.
  absl::Status Run();

  int64_t ColumnInt64(int column);
  // The column's bytes (BLOB or TEXT), empty for NULL.
  std::string ColumnBytes(int column);
  // The same without a copy: valid until the next Step or Reset.
  absl::string_view ColumnView(int column);

  // Resets the statement and clears bindings, ready for the next use.
  void Reset();

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
  };
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}

  sqlite3* db_ = nullptr;
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
};

// Resets a statement when leaving a scope, whatever the outcome.
class ScopedReset {
 public:
  explicit ScopedReset(SqliteStatement& stmt) : stmt_(stmt) {}
  ~ScopedReset() { stmt_.Reset(); }
  ScopedReset(const ScopedReset&) = delete;
  ScopedReset& operator=(const ScopedReset&) = delete;

 private:
  SqliteStatement& stmt_;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_STORE_SQLITE_STATEMENT_H_
