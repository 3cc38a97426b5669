// The load driver's clients and measurements (tests/bench/load_driver.cc
// is its command line and report): pairs of calls against portleased or the
// bench echo server, timed phases of C concurrent clients, and the CPU time
// and RSS of a server process read from /proc.
#ifndef PORTLEASE_TESTS_BENCH_LOAD_CLIENTS_H_
#define PORTLEASE_TESTS_BENCH_LOAD_CLIENTS_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "portlease/bench/echo.grpc.pb.h"
#include "portlease/v1/portlease.grpc.pb.h"

namespace portlease::bench {

// Warm-up pairs each client makes before a phase is timed.
inline constexpr int kWarmupPairs = 20;

// One client: makes "pairs" of calls on its own connection.
class PairClient {
 public:
  virtual ~PairClient() = default;
  virtual absl::Status Pair() = 0;
};

// Acquire a 5-port named lease (as lease-run sends it), then Release it.
class LeasePairClient : public PairClient {
 public:
  LeasePairClient(const std::string& address, int client);

  absl::Status Pair() override;

  // Wire sizes of the first pair (every pair has the same): Acquire
  // request/response, Release request/response.
  std::vector<size_t> sizes() const { return sizes_; }

 private:
  std::unique_ptr<v1::PortLease::Stub> stub_;
  int client_;
  uint64_t sequence_ = 0;
  std::vector<size_t> sizes_;
};

// Two echo calls whose requests and responses have the given wire sizes.
class EchoPairClient : public PairClient {
 public:
  // `busy_us`: the handler's busy work per call, first and second.
  EchoPairClient(const std::string& address, const std::vector<size_t>& sizes,
                 std::pair<uint32_t, uint32_t> busy_us = {0, 0});

  absl::Status Pair() override;

  std::vector<size_t> sizes() const;

 private:
  std::unique_ptr<Echo::Stub> stub_;
  EchoRequest first_;
  EchoRequest second_;
};

struct PhaseResult {
  int clients = 0;
  int64_t pairs = 0;
  int64_t errors = 0;
  std::string first_error;
  double seconds = 0;
  double p50_us = 0;
  double p99_us = 0;
  // CPU time (user + system) the servers used during the timed part, and
  // the store's processes (etcd members; 0 when none were given).
  double server_cpu_s = 0;
  double store_cpu_s = 0;
  double PairsPerSecond() const { return seconds > 0 ? pairs / seconds : 0; }
  double ServerCpuUsPerPair() const {
    return pairs > 0 ? server_cpu_s * 1e6 / static_cast<double>(pairs) : 0;
  }
  double StoreCpuUsPerPair() const {
    return pairs > 0 ? store_cpu_s * 1e6 / static_cast<double>(pairs) : 0;
  }
};

// Runs `clients` threads, each with a client from `make`, for `duration`
// after a warm-up of kWarmupPairs pairs each, and measures the CPU time
// the `servers` (and the `store` processes) used meanwhile.
PhaseResult RunPhase(
    int clients, const std::function<std::unique_ptr<PairClient>(int)>& make,
    absl::Duration duration, const std::vector<pid_t>& servers,
    const std::vector<pid_t>& store = {});

// VmRSS (kB) of `pid` (or the /proc/PID/status `field` given), or -1.
int64_t RssKb(pid_t pid, const char* field = "VmRSS:");

// Acquires `count` 2-port leases with a 1 h TTL on `address` from 8
// threads. Returns how many were granted.
int64_t FillLeases(const std::string& address, int count);

}  // namespace portlease::bench

#endif  // PORTLEASE_TESTS_BENCH_LOAD_CLIENTS_H_
