// Cost of one Put + one Delete (two transactions, what one grant and its
// release cost) on SqliteLeaseStore, with synchronous NORMAL (durable across
// kill -9) vs FULL (also across power loss). The lease is what lease-run
// sends for a five-port named lease: 5 names, 4 owner keys. The database
// lives in a fresh temp dir; set TMPDIR to measure a particular disk.
//
// BM_ConcurrentPutDelete: the same from 8 threads at once, with group
// commit (batch_commits, the default: concurrent calls share a
// transaction) vs one transaction per call.
//
//   sqlite_store_benchmark --benchmark_min_time=2
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "testing/temp_dir.h"
#include "server/store/sqlite_lease_store.h"
#include "server/store/test_leases.h"

namespace portlease {
namespace {

// A grant as lease-run makes it: 5 named ports, 4 owner keys.
LeaseRecord RealisticLease(int n = 100000) {
  LeaseRecord lease = TestLease(n);
  lease.count = 5;
  lease.names = {"redis", "worker", "orch", "health", "metrics"};
  lease.owner = {{"host", "ci-runner-07.example.net"},
                 {"user", "ci"},
                 {"pid", "4127731"},
                 {"command", "lease-run --profile ci/m2/ports.json -- "
                             "tests/m2/m2_stack.sh"}};
  return lease;
}

void BM_PutDelete(benchmark::State& state) {
  SqliteOptions options;
  options.synchronous = state.range(0) == 0
                            ? SqliteOptions::Synchronous::kNormal
                            : SqliteOptions::Synchronous::kFull;
  state.SetLabel(state.range(0) == 0 ? "synchronous=NORMAL"
                                     : "synchronous=FULL");
  testing::TempDir dir;
  absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
      SqliteLeaseStore::Open(dir.File("leases.db"), options);
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return;
  }
  // A realistic background: some live leases.
  for (int i = 0; i < 100; ++i) {
    if (!(*store)->Put(TestLease(i)).ok()) {
      state.SkipWithError("setup Put failed");
      return;
    }
  }
  const LeaseRecord lease = RealisticLease();
  for (auto _ : state) {
    if (!(*store)->Put(lease).ok() || !(*store)->Delete(lease.id).ok()) {
      state.SkipWithError("Put or Delete failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(BM_PutDelete)->Arg(0)->Arg(1)->UseRealTime();

// Shared by the threads of BM_ConcurrentPutDelete: opened by thread 0
// before the timed loop (whose start is a barrier), closed after it.
std::unique_ptr<testing::TempDir> concurrent_dir;
std::unique_ptr<SqliteLeaseStore> concurrent_store;

// Each thread Puts and Deletes its own lease; range(0) 1: batch_commits;
// range(1) 1: synchronous=FULL.
void BM_ConcurrentPutDelete(benchmark::State& state) {
  const bool batched = state.range(0) == 1;
  const bool full = state.range(1) == 1;
  if (state.thread_index() == 0) {
    concurrent_dir = std::make_unique<testing::TempDir>();
    SqliteOptions options;
    options.batch_commits = batched;
    options.synchronous = full ? SqliteOptions::Synchronous::kFull
                               : SqliteOptions::Synchronous::kNormal;
    absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
        SqliteLeaseStore::Open(concurrent_dir->File("leases.db"), options);
    if (store.ok()) concurrent_store = *std::move(store);
    for (int i = 0; concurrent_store != nullptr && i < 100; ++i) {
      if (!concurrent_store->Put(TestLease(i)).ok()) concurrent_store.reset();
    }
  }
  state.SetLabel(absl::StrCat(batched ? "batched" : "unbatched",
                              full ? " synchronous=FULL" : " synchronous=NORMAL"));
  const LeaseRecord lease = RealisticLease(200000 + state.thread_index());
  for (auto _ : state) {
    if (concurrent_store == nullptr) {
      state.SkipWithError("cannot open or fill the store");
      break;
    }
    if (!concurrent_store->Put(lease).ok() ||
        !concurrent_store->Delete(lease.id).ok()) {
      state.SkipWithError("Put or Delete failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * 2);
  if (state.thread_index() == 0) {
    concurrent_store.reset();
    concurrent_dir.reset();
  }
}
BENCHMARK(BM_ConcurrentPutDelete)
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->Threads(8)
    ->UseRealTime();

void BM_LoadAll(benchmark::State& state) {
  testing::TempDir dir;
  absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
      SqliteLeaseStore::Open(dir.File("leases.db"), {});
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return;
  }
  for (int i = 0; i < state.range(0); ++i) {
    if (!(*store)->Put(TestLease(i)).ok()) {
      state.SkipWithError("setup Put failed");
      return;
    }
  }
  for (auto _ : state) {
    absl::StatusOr<std::vector<LeaseRecord>> all = (*store)->LoadAll();
    benchmark::DoNotOptimize(all);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_LoadAll)->Arg(1000);

}  // namespace
}  // namespace portlease
