#include "server/store/sqlite_statement.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace portlease {
namespace {

// The start of a SQL text, on one line, for messages.
std::string Abbreviate(absl::string_view sql) {
  std::string out(absl::StripAsciiWhitespace(sql.substr(0, 60)));
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (sql.size() > 60) out += "...";
  return out;
}

}  // namespace

absl::Status SqliteStatus(sqlite3* db, int rc, absl::string_view what) {
  absl::string_view detail =
      db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  absl::string_view generic = sqlite3_errstr(rc);
  std::string message =
      detail == generic
          ? absl::StrCat(what, ": ", detail, " (code ", rc, ")")
          : absl::StrCat(what, ": ", detail, " (", generic, ", code ", rc, ")");
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::Status SqliteExec(sqlite3* db, const char* sql) {
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    return SqliteStatus(db, sqlite3_extended_errcode(db),
                        absl::StrCat("executing \"", Abbreviate(sql), "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<SqliteStatement> SqliteStatement::Prepare(sqlite3* db,
                                                         const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt,
                              nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteStatus(db, sqlite3_extended_errcode(db),
                        absl::StrCat("preparing \"", Abbreviate(sql), "\""));
  }
  return SqliteStatement(db, stmt);
}

absl::Status SqliteStatement::BindInt64(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_.get(), index, value);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "binding an integer");
  return absl::OkStatus();
}

absl::Status SqliteStatement::BindBytes(int index, absl::string_view value) {
  // A zero-length blob must still be non-NULL: pass a valid pointer.
  const char* data = value.empty() ? "" : value.data();
  int rc = sqlite3_bind_blob64(stmt_.get(), index, data, value.size(),
                               SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "binding a blob");
  return absl::OkStatus();
}

absl::StatusOr<bool> SqliteStatement::Step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(
      db_, sqlite3_extended_errcode(db_),
      absl::StrCat("running \"", Abbreviate(sqlite3_sql(stmt_.get())), "\""));
}

absl::Status SqliteStatement::Run() {
  ScopedReset reset(*this);
  absl::StatusOr<bool> row = Step();
  if (!row.ok()) return row.status();
  if (*row) {
    return absl::InternalError(absl::StrCat(
        "\"", sqlite3_sql(stmt_.get()), "\" returned a row unexpectedly"));
  }
  return absl::OkStatus();
}

int64_t SqliteStatement::ColumnInt64(int column) {
  return sqlite3_column_int64(stmt_.get(), column);
}

std::string SqliteStatement::ColumnBytes(int column) {
  return std::string(ColumnView(column));
}

absl::string_view SqliteStatement::ColumnView(int column) {
  const void* data = sqlite3_column_blob(stmt_.get(), column);
  int size = sqlite3_column_bytes(stmt_.get(), column);
  if (data == nullptr || size <= 0) return absl::string_view();
  return absl::string_view(static_cast<const char*>(data), size);
}

void SqliteStatement::Reset() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

}  // namespace portlease
