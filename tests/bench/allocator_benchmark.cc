// Acquire+release cost of the lease core as the pool fills.
//
// A 40,000-port pool holds 10, 1,000 or 10,000 live leases of 1-2 ports,
// fragmented by releasing every other lease of twice as many. Each iteration
// acquires a 5-port named lease and releases it, through LeaseManager with
// the memory store and a prober that trusts every port (store and probe
// costs are measured elsewhere). Target: the cost at 10,000 live leases is
// at most 2x the cost at 10; the program prints PASS or FAIL.
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "server/core/fake_clock.h"
#include "server/core/lease_manager.h"
#include "server/core/test_callers.h"
#include "server/store/memory_lease_store.h"

namespace portlease {
namespace {

struct Fixture {
  explicit Fixture(int live) {
    LeaseManagerOptions options;
    options.pool = {{10000, 49999}};
    options.cooldown = absl::ZeroDuration();
    options.max_ttl = absl::Hours(24);
    // One caller holds all 2 * live leases: no per-caller limit.
    options.max_leases_per_owner = 0;
    manager = std::move(
        LeaseManager::Create(options, &clock, &store, &prober).value());
    std::vector<std::string> ids;
    for (int i = 0; i < 2 * live; ++i) {
      AcquireParams p;
      p.count = 1 + i % 2;
      p.caller = kAlice;
      ids.push_back(manager->Acquire(p).value().id);
    }
    for (int i = 0; i < 2 * live; i += 2) {
      if (!manager->Release(ids[i], kAlice).ok()) std::abort();
    }
  }
  FakeClock clock;
  MemoryLeaseStore store;
  TrustingProber prober;
  std::unique_ptr<LeaseManager> manager;
};

void BM_AcquireRelease(benchmark::State& state) {
  Fixture f(static_cast<int>(state.range(0)));
  AcquireParams p;
  p.names = {"redis", "worker", "orch", "health", "metrics"};
  p.owner = {{"host", "bench"}, {"ci_job", "1"}};
  p.caller = kAlice;
  for (auto _ : state) {
    absl::StatusOr<LeaseRecord> lease = f.manager->Acquire(p);
    if (!lease.ok() || !f.manager->Release(lease->id, kAlice).ok()) {
      state.SkipWithError("acquire/release failed");
      break;
    }
  }
  state.counters["live_leases"] = static_cast<double>(f.manager->Stats().live_leases);
}
BENCHMARK(BM_AcquireRelease)->Arg(10)->Arg(1000)->Arg(10000);

// Collects each run's time per iteration to compare them at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) ns_[r.benchmark_name()] = r.GetAdjustedRealTime();
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> ns_;
};

}  // namespace
}  // namespace portlease

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  portlease::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  const auto& ns = reporter.ns_;
  auto small = ns.find("BM_AcquireRelease/10");
  auto large = ns.find("BM_AcquireRelease/10000");
  if (small == ns.end() || large == ns.end()) return 0;  // filtered out
  const double ratio = large->second / small->second;
  std::printf("acquire+release at 10,000 vs 10 live leases: %.2fx (target <= 2x): %s\n",
              ratio, ratio <= 2.0 ? "PASS" : "FAIL");
  return 0;
}
