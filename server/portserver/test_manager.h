// A real LeaseManager over a real SQLite file in a temp dir, and a fake
// process table, for the portserver adapter's tests.
#ifndef PORTLEASE_SERVER_PORTSERVER_TEST_MANAGER_H_
#define PORTLEASE_SERVER_PORTSERVER_TEST_MANAGER_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "server/core/clock.h"
#include "server/core/lease_manager.h"
#include "server/core/port_prober.h"
#include "server/portserver/process_table.h"
#include "server/store/sqlite_lease_store.h"
#include "testing/temp_dir.h"

namespace portlease {

// A process for FakeProcessTable.
inline ProcessInfo FakeProcess(pid_t pid, uint64_t start_time, uid_t uid = 1000,
                               bool exited = false, std::string command = "") {
  ProcessInfo info;
  info.pid = pid;
  info.start_time = start_time;
  info.real_uid = uid;
  info.effective_uid = uid;
  info.exited = exited;
  info.command = std::move(command);
  return info;
}

// Processes by pid, as the test sets them. Thread-safe.
class FakeProcessTable : public ProcessTable {
 public:
  void Set(ProcessInfo info) {
    absl::MutexLock lock(&mu_);
    by_pid_[info.pid] = std::move(info);
  }
  void Remove(pid_t pid) {
    absl::MutexLock lock(&mu_);
    by_pid_.erase(pid);
  }
  absl::StatusOr<ProcessInfo> Find(pid_t pid) override {
    absl::MutexLock lock(&mu_);
    auto it = by_pid_.find(pid);
    if (it == by_pid_.end()) {
      return absl::NotFoundError(absl::StrCat("no process ", pid));
    }
    return it->second;
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<pid_t, ProcessInfo> by_pid_ ABSL_GUARDED_BY(mu_);
};

// The store and the manager; Restart() opens both again on the same file.
class TestManager {
 public:
  explicit TestManager(const std::string& db, PortRange pool = {31000, 31199})
      : db_(db), pool_(pool) {
    Open();
  }
  LeaseManager* get() { return manager_.get(); }
  void Restart() {
    manager_.reset();
    store_.reset();
    Open();
  }

 private:
  void Open() {
    absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
        SqliteLeaseStore::Open(db_, {});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    LeaseManagerOptions options;
    options.pool = {pool_};
    options.cooldown = absl::Milliseconds(10);
    absl::StatusOr<std::unique_ptr<LeaseManager>> manager =
        LeaseManager::Create(options, &clock_, store_.get(), &prober_);
    ASSERT_TRUE(manager.ok()) << manager.status();
    manager_ = *std::move(manager);
  }

  const std::string db_;
  const PortRange pool_;
  RealClock clock_;
  TrustingProber prober_;
  std::unique_ptr<SqliteLeaseStore> store_;
  std::unique_ptr<LeaseManager> manager_;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_PORTSERVER_TEST_MANAGER_H_
