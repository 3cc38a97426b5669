// Migrations of real older databases, built here with raw SQL in the layout
// each released version had, and DATA_LOSS for version 3 rows whose names or
// owner don't decode.
#include "server/store/sqlite_schema.h"

#include <sqlite3.h>

#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/lease_codec.h"
#include "server/store/sqlite_lease_store.h"
#include "server/store/test_leases.h"
#include "testing/temp_dir.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

// The released layouts, as migrations 0 -> 1 and 1 -> 2 created them.
constexpr char kVersion1Schema[] = R"sql(
  PRAGMA journal_mode = WAL;
  CREATE TABLE leases (
    id BLOB NOT NULL PRIMARY KEY, base INTEGER NOT NULL,
    count INTEGER NOT NULL, udp INTEGER NOT NULL, request_id BLOB NOT NULL,
    created_at_us INTEGER NOT NULL, expires_at_us INTEGER NOT NULL,
    ttl_us INTEGER NOT NULL, state INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE lease_names (
    lease_id BLOB NOT NULL, position INTEGER NOT NULL, name BLOB NOT NULL,
    PRIMARY KEY (lease_id, position)) WITHOUT ROWID;
  CREATE TABLE lease_owner (
    lease_id BLOB NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (lease_id, key)) WITHOUT ROWID;
  PRAGMA application_id = 1347179333;
  PRAGMA user_version = 1;
)sql";
constexpr char kVersion2Additions[] = R"sql(
  CREATE TABLE drained_ports (port INTEGER NOT NULL PRIMARY KEY) WITHOUT ROWID;
  PRAGMA user_version = 2;
)sql";
// What migration 2 -> 3 left: names and owner in `leases`.
constexpr char kVersion3Changes[] = R"sql(
  ALTER TABLE leases ADD COLUMN names BLOB NOT NULL DEFAULT x'';
  ALTER TABLE leases ADD COLUMN owner BLOB NOT NULL DEFAULT x'';
  DROP TABLE lease_names;
  DROP TABLE lease_owner;
  PRAGMA user_version = 3;
)sql";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream data;
  data << in.rdbuf();
  return data.str();
}

// A raw connection to the file, bypassing the store and its lock.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
  }
  ~RawDb() { sqlite3_close(db_); }

  void Exec(const std::string& sql) {
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error),
              SQLITE_OK)
        << (error != nullptr ? error : "");
    sqlite3_free(error);
  }

  int64_t QueryInt(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    int64_t value = -1;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) ==
            SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      value = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
    return value;
  }

  // Runs `sql` with the strings of `blobs` bound as BLOBs and `ints` after
  // them, as the store of that version bound them.
  void Run(const char* sql, const std::vector<std::string>& blobs,
           const std::vector<int64_t>& ints = {}) {
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_);
    int index = 1;
    for (const std::string& blob : blobs) {
      sqlite3_bind_blob(stmt, index++, blob.data(),
                        static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    }
    for (int64_t value : ints) sqlite3_bind_int64(stmt, index++, value);
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_DONE) << sqlite3_errmsg(db_);
    sqlite3_finalize(stmt);
  }

  // Writes `lease` in the version 1 and 2 layout.
  void InsertOldLease(const LeaseRecord& lease) {
    auto time_us = [](absl::Time t) {
      if (t == absl::InfiniteFuture()) {
        return std::numeric_limits<int64_t>::max();
      }
      return absl::ToUnixMicros(t);
    };
    Run("INSERT INTO leases (id, request_id, base, count, udp, created_at_us, "
        "expires_at_us, ttl_us, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
        "?8, ?9)",
        {lease.id, lease.request_id},
        {lease.base, lease.count, lease.udp ? 1 : 0, time_us(lease.created_at),
         time_us(lease.expires_at), absl::ToInt64Microseconds(lease.ttl),
         static_cast<int64_t>(lease.state)});
    for (size_t i = 0; i < lease.names.size(); ++i) {
      Run("INSERT INTO lease_names (lease_id, name, position) "
          "VALUES (?1, ?2, ?3)",
          {lease.id, lease.names[i]}, {static_cast<int64_t>(i)});
    }
    for (const auto& [key, value] : lease.owner) {
      Run("INSERT INTO lease_owner (lease_id, key, value) VALUES (?1, ?2, ?3)",
          {lease.id, key, value});
    }
  }

 private:
  sqlite3* db_ = nullptr;
};

// Leases that exercise the old tables: names with awkward bytes, a lease
// by count (no names), one without owner, one draining, one that never
// expires.
std::vector<LeaseRecord> OldLeases() {
  std::vector<LeaseRecord> leases;
  LeaseRecord named = TestLease(1);
  named.count = 5;
  named.names = {"redis", "", std::string("nul\0byte", 8), "\xff\xfe",
                 std::string(300, 'n')};
  named.owner = {{"host", "runner-7"}, {"", "empty key"}, {"pid", ""},
                 {std::string("k\0", 2), std::string(200, 'v')}};
  leases.push_back(named);
  LeaseRecord by_count = TestLease(2);
  by_count.names.clear();
  leases.push_back(by_count);
  LeaseRecord no_owner = TestLease(3);
  no_owner.owner.clear();
  leases.push_back(no_owner);
  LeaseRecord draining = TestLease(4);
  draining.state = LeaseState::kDraining;
  draining.expires_at = absl::InfiniteFuture();
  leases.push_back(draining);
  for (int i = 10; i < 40; ++i) leases.push_back(TestLease(i));
  return SortedById(leases);
}

class SqliteSchemaTest : public ::testing::Test {
 protected:
  // A closed version 2 database holding OldLeases() and two drained ports.
  void CreateVersion2Database() {
    RawDb db(path_);
    db.Exec(kVersion1Schema);
    db.Exec(kVersion2Additions);
    db.Exec("BEGIN");
    for (const LeaseRecord& lease : OldLeases()) db.InsertOldLease(lease);
    db.Exec("INSERT INTO drained_ports (port) VALUES (20011), (20003); COMMIT");
  }

  int64_t QueryInt(const std::string& sql) { return RawDb(path_).QueryInt(sql); }

  std::vector<LeaseRecord> Load(LeaseStore& store) {
    absl::StatusOr<std::vector<LeaseRecord>> all = store.LoadAll();
    EXPECT_TRUE(all.ok()) << all.status();
    return all.ok() ? SortedById(*std::move(all)) : std::vector<LeaseRecord>{};
  }

  // Opens the store on a database whose migration must fail with DATA_LOSS
  // naming `lease` and `what`, and checks the file is left as it was.
  void ExpectMigrationRefused(const LeaseRecord& lease,
                              const std::string& what) {
    const std::string before = ReadFile(path_);
    absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
        SqliteLeaseStore::Open(path_, {});
    EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss)
        << store.status();
    EXPECT_THAT(store.status().message(),
                HasSubstr("from schema version 2 to 3"));
    EXPECT_THAT(store.status().message(),
                HasSubstr(absl::StrCat("lease ", lease.IdPrefix(), ": ", what)));
    EXPECT_THAT(store.status().message(), HasSubstr(path_));
    store = absl::UnknownError("closed");
    EXPECT_EQ(ReadFile(path_), before);
    EXPECT_EQ(QueryInt("PRAGMA user_version"), 2);
    EXPECT_GT(QueryInt("SELECT count(*) FROM lease_names"), 0);
    EXPECT_GT(QueryInt("SELECT count(*) FROM lease_owner"), 0);
  }

  testing::TempDir dir_;
  std::string path_ = dir_.File("leases.db");
};

TEST_F(SqliteSchemaTest, Version2IsMigratedToOneRowPerLease) {
  CreateVersion2Database();
  std::unique_ptr<SqliteLeaseStore> store;
  {
    absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> opened =
        SqliteLeaseStore::Open(path_, {});
    ASSERT_TRUE(opened.ok()) << opened.status();
    store = *std::move(opened);
  }
  EXPECT_EQ(Load(*store), OldLeases());
  absl::StatusOr<std::vector<Port>> drained = store->LoadDrainedPorts();
  ASSERT_TRUE(drained.ok()) << drained.status();
  EXPECT_EQ(*drained, (std::vector<Port>{20003, 20011}));
  store.reset();

  EXPECT_EQ(QueryInt("PRAGMA user_version"), kSqliteSchemaVersion);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM sqlite_schema WHERE name IN "
                     "('lease_names', 'lease_owner')"),
            0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM leases"),
            static_cast<int64_t>(OldLeases().size()));
  // Reopening finds nothing left to migrate and the same leases.
  absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> again =
      SqliteLeaseStore::Open(path_, {});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Load(**again), OldLeases());
}

TEST_F(SqliteSchemaTest, Version1IsMigratedKeepingItsLeases) {
  {
    RawDb db(path_);
    db.Exec(kVersion1Schema);
    for (int i = 0; i < 3; ++i) db.InsertOldLease(TestLease(i));
  }
  absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
      SqliteLeaseStore::Open(path_, {});
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(Load(**store),
            SortedById({TestLease(0), TestLease(1), TestLease(2)}));
  absl::StatusOr<std::vector<Port>> drained = (*store)->LoadDrainedPorts();
  ASSERT_TRUE(drained.ok()) << drained.status();
  EXPECT_TRUE(drained->empty());
  EXPECT_TRUE((*store)->SetPortDrained(20001, true).ok());
  store = absl::UnknownError("closed");
  EXPECT_EQ(QueryInt("PRAGMA user_version"), kSqliteSchemaVersion);
  EXPECT_EQ(QueryInt("SELECT port FROM drained_ports"), 20001);
}

// Version 4 records each lease's caller; the leases stored before keep an
// empty one (the manager backfills it from their peer_* owner keys).
TEST_F(SqliteSchemaTest, Version3IsMigratedWithAnEmptyCaller) {
  LeaseRecord lease = TestLease(1);
  lease.owner = {{"peer_uid", "1000"}, {"host", "runner-7"}};
  {
    RawDb db(path_);
    db.Exec(kVersion1Schema);
    db.Exec(kVersion2Additions);
    db.Exec(kVersion3Changes);
    std::string names;
    EncodeLeaseNames(lease.names, &names);
    std::string owner;
    EncodeLeaseOwner(lease.owner, &owner);
    db.Run("INSERT INTO leases (id, request_id, names, owner, base, count, "
           "udp, created_at_us, expires_at_us, ttl_us, state) VALUES (?1, ?2, "
           "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
           {lease.id, lease.request_id, names, owner},
           {lease.base, lease.count, lease.udp ? 1 : 0,
            absl::ToUnixMicros(lease.created_at),
            absl::ToUnixMicros(lease.expires_at),
            absl::ToInt64Microseconds(lease.ttl),
            static_cast<int64_t>(lease.state)});
  }
  ASSERT_EQ(QueryInt("PRAGMA user_version"), 3);
  absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
      SqliteLeaseStore::Open(path_, {});
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(Load(**store), std::vector<LeaseRecord>{lease});
  // The next Put records the caller, and it survives a reopen.
  lease.caller = "uid:1000";
  ASSERT_TRUE((*store)->Put(lease).ok());
  store = absl::UnknownError("closed");
  // Read once the store is closed: while open it holds the file exclusively.
  EXPECT_EQ(QueryInt("PRAGMA user_version"), kSqliteSchemaVersion);
  store = SqliteLeaseStore::Open(path_, {});
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(Load(**store), std::vector<LeaseRecord>{lease});
}

TEST_F(SqliteSchemaTest, GapInVersion2NamesFailsMigrationAndKeepsVersion2) {
  CreateVersion2Database();
  const LeaseRecord victim = OldLeases()[7];
  ASSERT_FALSE(victim.names.empty());
  RawDb(path_).Run(
      "UPDATE lease_names SET position = 9 WHERE lease_id = ?1 AND "
      "position = 0",
      {victim.id});
  ExpectMigrationRefused(victim, "names are not numbered 0..n-1");
}

TEST_F(SqliteSchemaTest, OrphanVersion2OwnerFailsMigrationAndKeepsVersion2) {
  CreateVersion2Database();
  LeaseRecord gone = TestLease(99);
  RawDb(path_).Run(
      "INSERT INTO lease_owner (lease_id, key, value) VALUES (?1, ?2, ?3)",
      {gone.id, "host", "h"});
  ExpectMigrationRefused(gone, "owner of a missing lease");
}

TEST_F(SqliteSchemaTest, UndecodableNamesOrOwnerAreDataLossOnLoad) {
  const LeaseRecord lease = TestLease(3);
  {
    absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
        SqliteLeaseStore::Open(path_, {});
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Put(lease).ok());
  }
  const struct {
    const char* column;
    std::string blob;
    const char* message;
  } cases[] = {
      {"names", "\x05" "ab", "names: length 5 runs past the end"},
      {"names", "\x80", "names: truncated length varint"},
      {"owner", "\x01k\x01v\x01k\x01w", "owner: duplicate key \"k\""},
      {"owner", "\x01k", "owner: odd number of strings"},
  };
  for (const auto& c : cases) {
    RawDb(path_).Run(absl::StrCat("UPDATE leases SET ", c.column,
                                  " = ?1 WHERE id = ?2")
                         .c_str(),
                     {c.blob, lease.id});
    absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
        SqliteLeaseStore::Open(path_, {});
    ASSERT_TRUE(store.ok()) << store.status();
    absl::StatusOr<std::vector<LeaseRecord>> all = (*store)->LoadAll();
    EXPECT_EQ(all.status().code(), absl::StatusCode::kDataLoss)
        << all.status();
    EXPECT_THAT(all.status().message(),
                HasSubstr(absl::StrCat("lease ", lease.IdPrefix(), ": ",
                                       c.message)));
    // Put rewrites the row whole, which repairs it.
    ASSERT_TRUE((*store)->Put(lease).ok());
    absl::StatusOr<std::vector<LeaseRecord>> repaired = (*store)->LoadAll();
    ASSERT_TRUE(repaired.ok()) << repaired.status();
    EXPECT_EQ(*repaired, std::vector<LeaseRecord>{lease});
  }
}

}  // namespace
}  // namespace portlease
