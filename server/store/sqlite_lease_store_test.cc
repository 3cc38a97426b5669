// SqliteLeaseStore beyond the shared contract: file handling, refusal of
// bad files, locking, write failures and durability across kill -9.
#include "server/store/sqlite_lease_store.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/sqlite_schema.h"
#include "server/store/test_leases.h"
#include "testing/temp_dir.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream data;
  data << in.rdbuf();
  return data.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

// Runs SQL on the file directly, bypassing the store and its lock.
void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << (error != nullptr ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

int64_t RawQueryInt(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_stmt* stmt = nullptr;
  int64_t value = -1;
  if (sqlite3_open(path.c_str(), &db) == SQLITE_OK &&
      sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    value = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

std::unique_ptr<SqliteLeaseStore> MustOpen(const std::string& path,
                                           SqliteOptions options = {}) {
  absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
      SqliteLeaseStore::Open(path, options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

std::vector<LeaseRecord> MustLoad(LeaseStore& store) {
  absl::StatusOr<std::vector<LeaseRecord>> all = store.LoadAll();
  EXPECT_TRUE(all.ok()) << all.status();
  return all.ok() ? SortedById(*std::move(all)) : std::vector<LeaseRecord>{};
}

// A closed database holding TestLease(0..n-1).
void CreateDatabase(const std::string& path, int n) {
  std::unique_ptr<SqliteLeaseStore> store = MustOpen(path);
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < n; ++i) ASSERT_TRUE(store->Put(TestLease(i)).ok());
}

std::vector<LeaseRecord> TestLeases(int n) {
  std::vector<LeaseRecord> leases;
  for (int i = 0; i < n; ++i) leases.push_back(TestLease(i));
  return SortedById(leases);
}

class SqliteLeaseStoreTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::string path_ = dir_.File("leases.db");
};

TEST_F(SqliteLeaseStoreTest, CreatesWalDatabaseWithCurrentSchema) {
  CreateDatabase(path_, 1);
  EXPECT_EQ(RawQueryInt(path_, "PRAGMA user_version"), kSqliteSchemaVersion);
  EXPECT_EQ(RawQueryInt(path_, "PRAGMA application_id"), kSqliteApplicationId);
  EXPECT_EQ(RawQueryInt(path_, "SELECT count(*) FROM leases"), 1);
  EXPECT_EQ(RawQueryInt(path_, "SELECT journal_mode = 'wal' FROM "
                               "pragma_journal_mode"),
            1);
}

TEST_F(SqliteLeaseStoreTest, MissingDirectoryIsNotFoundAndNotCreated) {
  std::string path = dir_.File("missing/leases.db");
  absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
      SqliteLeaseStore::Open(path, {});
  EXPECT_EQ(store.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(store.status().message(), HasSubstr(dir_.File("missing")));
  EXPECT_FALSE(Exists(dir_.File("missing")));
}

TEST_F(SqliteLeaseStoreTest, EmptyPathIsInvalid) {
  EXPECT_EQ(SqliteLeaseStore::Open("", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SqliteLeaseStoreTest, EmptyFileIsInitialized) {
  WriteFile(path_, "");
  std::unique_ptr<SqliteLeaseStore> store = MustOpen(path_);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->Put(TestLease(1)).ok());
}

TEST_F(SqliteLeaseStoreTest, GarbageFileIsDataLossAndUntouched) {
  std::string garbage;
  for (int i = 0; i < 500; ++i) {
    garbage += absl::StrCat("line ", i, ": this is not a database\n");
  }
  WriteFile(path_, garbage);
  absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
      SqliteLeaseStore::Open(path_, {});
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss)
      << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr(path_));
  EXPECT_THAT(store.status().message(), HasSubstr("not modified"));
  EXPECT_EQ(ReadFile(path_), garbage);
  EXPECT_FALSE(Exists(path_ + "-wal"));
}

TEST_F(SqliteLeaseStoreTest, CorruptDatabaseIsDataLossAndUntouched) {
  CreateDatabase(path_, 200);
  std::string data = ReadFile(path_);
  int page_size = RawQueryInt(path_, "PRAGMA page_size");
  ASSERT_GT(data.size(), 4u * page_size);
  // Scribble over the b-tree header of page 3.
  for (int i = 0; i < 16; ++i) data[2 * page_size + i] = '\x77';
  WriteFile(path_, data);

  absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
      SqliteLeaseStore::Open(path_, {});
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss)
      << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr(path_));
  EXPECT_THAT(store.status().message(), HasSubstr("not modified"));
  EXPECT_EQ(ReadFile(path_), data);
}

TEST_F(SqliteLeaseStoreTest, ForeignDatabaseIsRefusedAndUntouched) {
  RawExec(path_, "CREATE TABLE photos (id INTEGER PRIMARY KEY, data BLOB)");
  std::string before = ReadFile(path_);
  absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
      SqliteLeaseStore::Open(path_, {});
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition)
      << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr("another application"));
  EXPECT_EQ(ReadFile(path_), before);
}

TEST_F(SqliteLeaseStoreTest, NewerSchemaIsRefusedAndUntouched) {
  CreateDatabase(path_, 3);
  RawExec(path_, "PRAGMA user_version = 99");
  std::string before = ReadFile(path_);
  absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
      SqliteLeaseStore::Open(path_, {});
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition)
      << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr("schema version 99"));
  EXPECT_EQ(ReadFile(path_), before);
}

TEST_F(SqliteLeaseStoreTest, InvalidRowIsDataLossOnLoad) {
  CreateDatabase(path_, 3);
  RawExec(path_, "UPDATE leases SET state = 7");
  std::unique_ptr<SqliteLeaseStore> store = MustOpen(path_);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::vector<LeaseRecord>> all = store->LoadAll();
  EXPECT_EQ(all.status().code(), absl::StatusCode::kDataLoss) << all.status();
  EXPECT_THAT(all.status().message(), HasSubstr("invalid state 7"));
}

TEST_F(SqliteLeaseStoreTest, SecondOpenIsRefusedWhileFirstIsOpen) {
  std::unique_ptr<SqliteLeaseStore> first = MustOpen(path_);
  ASSERT_NE(first, nullptr);
  absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> second =
      SqliteLeaseStore::Open(path_, {});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(),
              HasSubstr(absl::StrCat("database ", path_,
                                     " is in use by another portleased (pid ",
                                     getpid(), ")")));
  ASSERT_TRUE(first->Put(TestLease(1)).ok());
  first.reset();
  std::unique_ptr<SqliteLeaseStore> again = MustOpen(path_);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(MustLoad(*again), std::vector<LeaseRecord>{TestLease(1)});
}

TEST_F(SqliteLeaseStoreTest, ReadOnlyStoreFailsWritesAndKeepsData) {
  CreateDatabase(path_, 3);
  SqliteOptions options;
  options.read_only = true;
  std::unique_ptr<SqliteLeaseStore> store = MustOpen(path_, options);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(MustLoad(*store), TestLeases(3));
  absl::Status put = store->Put(TestLease(7));
  EXPECT_EQ(put.code(), absl::StatusCode::kUnavailable) << put;
  EXPECT_THAT(put.message(), HasSubstr(path_));
  absl::Status del = store->Delete(TestLease(1).id);
  EXPECT_EQ(del.code(), absl::StatusCode::kUnavailable) << del;
  EXPECT_EQ(MustLoad(*store), TestLeases(3));
  store.reset();

  std::unique_ptr<SqliteLeaseStore> writable = MustOpen(path_);
  ASSERT_NE(writable, nullptr);
  EXPECT_TRUE(writable->Put(TestLease(7)).ok());
}

AuditEvent EventOf(const std::string& type, const LeaseRecord& lease) {
  AuditEvent event;
  event.at = absl::FromUnixMicros(1700000000000000);
  event.type = type;
  event.lease = lease.IdPrefix();
  event.by = "uid:0";
  return event;
}

std::vector<std::string> EventTypes(SqliteLeaseStore& store) {
  absl::StatusOr<std::vector<AuditEvent>> events = store.LoadEvents({});
  EXPECT_TRUE(events.ok()) << events.status();
  std::vector<std::string> out;
  if (events.ok()) {
    for (const AuditEvent& e : *events) out.push_back(e.type + " " + e.lease);
  }
  return out;
}

TEST_F(SqliteLeaseStoreTest, AChangeAndItsEventCommitTogetherOrNotAtAll) {
  MustOpen(path_).reset();  // creates the current schema
  // An event the database refuses: its change must not be kept either.
  RawExec(path_,
          "CREATE TRIGGER refuse BEFORE INSERT ON events "
          "WHEN NEW.type = X'626f6f6d' BEGIN SELECT RAISE(ABORT, 'boom'); END");
  std::unique_ptr<SqliteLeaseStore> store = MustOpen(path_);
  ASSERT_NE(store, nullptr);
  const LeaseRecord a = TestLease(1);
  const LeaseRecord b = TestLease(2);
  ASSERT_TRUE(store->PutAudited(a, EventOf("grant", a)).ok());
  EXPECT_FALSE(store->PutAudited(b, EventOf("boom", b)).ok());
  EXPECT_FALSE(store->DeleteAudited(a.id, EventOf("boom", a)).ok());
  // Concurrent writes share a transaction; the refused one fails alone.
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      const LeaseRecord lease = TestLease(10 + i);
      results[i] =
          store->PutAudited(lease, EventOf(i == 3 ? "boom" : "grant", lease));
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<LeaseRecord> want = {a};
  std::vector<std::string> want_events = {"grant " + a.IdPrefix()};
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(results[i].ok(), i != 3) << i << ": " << results[i];
    if (i == 3) continue;
    want.push_back(TestLease(10 + i));
  }
  std::vector<LeaseRecord> loaded = MustLoad(*store);
  std::sort(loaded.begin(), loaded.end(),
            [](const LeaseRecord& x, const LeaseRecord& y) { return x.id < y.id; });
  std::sort(want.begin(), want.end(),
            [](const LeaseRecord& x, const LeaseRecord& y) { return x.id < y.id; });
  EXPECT_EQ(loaded, want);
  std::vector<std::string> types = EventTypes(*store);
  EXPECT_EQ(types.size(), 8u);  // a's grant and seven of the eight
  EXPECT_EQ(std::count(types.begin(), types.end(), "boom " + b.IdPrefix()), 0);
}

TEST_F(SqliteLeaseStoreTest, KeepsTheNewestMaxEvents) {
  SqliteOptions options;
  options.max_events = 3;
  std::unique_ptr<SqliteLeaseStore> store = MustOpen(path_, options);
  ASSERT_NE(store, nullptr);
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(store->PutAudited(TestLease(i), EventOf("grant", TestLease(i))).ok());
  }
  store.reset();  // pruned at the next open (and every thousand events)
  store = MustOpen(path_, options);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(EventTypes(*store),
            (std::vector<std::string>{"grant " + TestLease(3).IdPrefix(),
                                      "grant " + TestLease(4).IdPrefix(),
                                      "grant " + TestLease(5).IdPrefix()}));
  // A new event's seq is past every pruned one's.
  ASSERT_TRUE(store->RecordEvent(EventOf("pool-change", LeaseRecord{})).ok());
  absl::StatusOr<std::vector<AuditEvent>> events = store->LoadEvents({});
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->back().seq, 6u);

  options.max_events = 0;  // no trail: changes are still made
  store.reset();
  store = MustOpen(path_, options);
  ASSERT_TRUE(store->PutAudited(TestLease(9), EventOf("grant", TestLease(9))).ok());
  EXPECT_EQ(MustLoad(*store).size(), 6u);
}

TEST_F(SqliteLeaseStoreTest, ReadOnlyOpenOfMissingFileIsNotFound) {
  SqliteOptions options;
  options.read_only = true;
  EXPECT_EQ(SqliteLeaseStore::Open(path_, options).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(Exists(path_));
}

// Group commit: writes from many threads at once, with and without
// batching, all land, each before its own call returns.
TEST_F(SqliteLeaseStoreTest, ConcurrentWritesAllCommit) {
  for (bool batched : {true, false}) {
    testing::TempDir dir;
    SqliteOptions options;
    options.batch_commits = batched;
    std::unique_ptr<SqliteLeaseStore> store =
        MustOpen(dir.File("leases.db"), options);
    ASSERT_NE(store, nullptr);
    constexpr int kThreads = 8;
    constexpr int kRounds = 40;
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kRounds; ++i) {
          LeaseRecord lease = TestLease(t * 1000 + i);
          if (!store->Put(lease).ok()) ++failures;
          // Every other lease is deleted again; the rest stay.
          if (i % 2 == 1 && !store->Delete(lease.id).ok()) ++failures;
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    EXPECT_EQ(failures.load(), 0);
    std::vector<LeaseRecord> expected;
    for (int t = 0; t < kThreads; ++t) {
      for (int i = 0; i < kRounds; i += 2) {
        expected.push_back(TestLease(t * 1000 + i));
      }
    }
    EXPECT_EQ(MustLoad(*store), SortedById(expected)) << "batched=" << batched;
    store.reset();
    // And durably so.
    std::unique_ptr<SqliteLeaseStore> reopened = MustOpen(dir.File("leases.db"));
    ASSERT_NE(reopened, nullptr);
    EXPECT_EQ(MustLoad(*reopened), SortedById(expected));
  }
}

TEST_F(SqliteLeaseStoreTest, UnwritableFileIsRefusedUntilWritableAgain) {
  if (geteuid() == 0) {
    GTEST_SKIP() << "file permissions don't stop root; the read_only, busy "
                    "and disk-full tests cover failing writes";
  }
  CreateDatabase(path_, 2);
  std::string before = ReadFile(path_);
  ASSERT_EQ(chmod(path_.c_str(), 0444), 0);
  absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> refused =
      SqliteLeaseStore::Open(path_, {});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable)
      << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("not writable"));
  EXPECT_EQ(ReadFile(path_), before);
  EXPECT_FALSE(Exists(path_ + "-wal"));
  ASSERT_EQ(chmod(path_.c_str(), 0644), 0);
  std::unique_ptr<SqliteLeaseStore> store = MustOpen(path_);
  ASSERT_NE(store, nullptr);
  absl::Status put = store->Put(TestLease(5));
  EXPECT_TRUE(put.ok()) << put;
}

TEST_F(SqliteLeaseStoreTest, OpenStoreHoldsTheDatabaseExclusivelyWithoutShm) {
  SqliteOptions options;
  options.busy_timeout = absl::Milliseconds(20);
  std::unique_ptr<SqliteLeaseStore> store = MustOpen(path_, options);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Put(TestLease(1)).ok());
  // Exclusive locking mode: the WAL index is in the server's memory, so no
  // mmapped -shm file (whose I/O faults would be SIGBUS).
  EXPECT_TRUE(Exists(path_ + "-wal"));
  EXPECT_FALSE(Exists(path_ + "-shm"));

  // Another connection (say, a sqlite3 shell) can neither read nor lock
  // the database while the store has it open; the store is unaffected.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_NE(sqlite3_exec(other, "SELECT count(*) FROM leases", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(other);
  EXPECT_TRUE(store->Put(TestLease(2)).ok());
  EXPECT_EQ(MustLoad(*store), SortedById({TestLease(1), TestLease(2)}));

  // Once closed, the file is an ordinary database again.
  store.reset();
  EXPECT_EQ(RawQueryInt(path_, "SELECT count(*) FROM leases"), 2);
}

}  // namespace
}  // namespace portlease
