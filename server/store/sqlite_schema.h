// The SQLite store's schema: checks run at open, and the migrations that
// bring an older database up to date. Private to the store layer.
//
// Layout (schema version 6). Every string is stored as a BLOB, so arbitrary
// bytes (NULs, newlines, invalid UTF-8) round-trip unchanged; times are int64
// unix microseconds, with INT64_MIN/INT64_MAX standing for the infinite past
// and future.
//   leases(id, base, count, udp, request_id, created_at_us, expires_at_us,
//          ttl_us, state, names, owner,    one row per lease, the whole
//          caller, held)                   LeaseRecord: `names` and `owner`
//                                          (added in version 3) hold
//                                          LeaseRecord::names and ::owner in
//                                          the encoding of lease_codec.h;
//                                          `caller` (added in version 4),
//                                          LeaseRecord::caller, is '' in rows
//                                          written before (the manager
//                                          backfills it, LegacyPrincipal);
//                                          `held` (added in version 5), 0/1,
//                                          LeaseRecord::held
//   drained_ports(port)                    ports taken out by DrainPort
//                                          (added in version 2)
//   events(seq, at_us, type, lease, base,  the audit trail (added in
//          count, owner, port, actor,      version 6): one AuditEvent per
//          privilege, detail)              row, `owner` in the encoding of
//                                          lease_codec.h, `actor` its `by`;
//                                          seq the rowid, ascending
// Versions 1 and 2 kept names and owner in tables of their own,
// lease_names(lease_id, position, name) and lease_owner(lease_id, key,
// value); the migration to version 3 moves them into `leases` and drops
// those tables.
// PRAGMA user_version holds the schema version; PRAGMA application_id marks
// the file as a portlease database.
#ifndef PORTLEASE_SERVER_STORE_SQLITE_SCHEMA_H_
#define PORTLEASE_SERVER_STORE_SQLITE_SCHEMA_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace portlease {

// The schema version this build reads and writes.
inline constexpr int kSqliteSchemaVersion = 6;
// "PLSE": PRAGMA application_id of a portlease database.
inline constexpr int32_t kSqliteApplicationId = 0x504c5345;

// Checks, without writing anything, that `db` (just opened from `path`) is an
// empty file or a healthy portlease database this build can use, and returns
// its schema version (0 for an empty file). Errors, each naming `path` and
// saying it was not modified:
//   DATA_LOSS            not a SQLite database, or PRAGMA quick_check fails;
//   FAILED_PRECONDITION  another application's database, or a schema newer
//                        than kSqliteSchemaVersion;
//   UNAVAILABLE          the file can't be read (I/O error, locked).
absl::StatusOr<int> CheckSqliteDatabase(sqlite3* db, const std::string& path);

// Applies the migrations from `version` up to kSqliteSchemaVersion, each in
// its own transaction that also bumps user_version; a step that fails is
// rolled back, so the database stays at the last completed version.
// Errors, each naming `path` and the step:
//   UNAVAILABLE  a write failed (disk full, I/O error, locked);
//   DATA_LOSS    the data can't be carried over (e.g. version 2's names of a
//                lease are not numbered 0..n-1, or belong to no lease); the
//                message names the lease by its id prefix.
absl::Status MigrateSqliteSchema(sqlite3* db, const std::string& path,
                                 int version);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_STORE_SQLITE_SCHEMA_H_
