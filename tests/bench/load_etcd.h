// The etcd phase of portlease_load (tests/bench/load_driver.cc): the same
// Acquire+Release pairs against portleased replicas that keep their leases
// in a real etcd cluster (--store=etcd, server/replicated/).
//
// For each cluster size M (EtcdPhaseOptions::members) it starts M etcd
// members on loopback (tests/support/etcd_cluster.h), then for each
// replica count N a set of N portleased replicas on Unix sockets in the
// driver's temp dir, each with --store=etcd --probe=none and a key prefix
// of its own (a fresh pool per set), and for each client count C runs a
// timed phase of C clients, client i on replica i mod N.
//
// The members' ports are leased the test suite's way (LeasedPorts): from
// $PORTLEASE_TEST_ADDR when it is set (ctest sets it to the suite's
// portleased), else from a portleased this phase starts itself with
// --probe=system over EtcdPhaseOptions::port_pool, which grants only ports
// nothing on the host holds.
//
//   if (!EtcdPhaseAvailable()) puts(EtcdUnavailableMessage().c_str());
//   absl::StatusOr<std::vector<EtcdPhaseResult>> r = RunEtcdPhases(options, dir);
#ifndef PORTLEASE_TESTS_BENCH_LOAD_ETCD_H_
#define PORTLEASE_TESTS_BENCH_LOAD_ETCD_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "testing/temp_dir.h"
#include "tests/bench/load_clients.h"

namespace portlease::bench {

struct EtcdPhaseOptions {
  // The portleased binary.
  std::string portleased;
  // etcd cluster sizes, one cluster each (1 to 5 members).
  std::vector<size_t> members = {1, 3};
  // Replica counts run against every cluster.
  std::vector<int> replicas = {1, 3};
  // Client counts, one timed phase each.
  std::vector<int> clients = {1, 16};
  absl::Duration duration = absl::Seconds(5);
  // The replicas' --pool.
  std::string pool = "20000-29999";
  // The pool of the portleased the members' ports are leased from when
  // $PORTLEASE_TEST_ADDR is unset (outside the kernel's ephemeral range).
  std::string port_pool = "31000-31999";
};

struct EtcdPhaseResult {
  size_t members = 0;
  int replicas = 0;
  // server_cpu_s: the replicas together; store_cpu_s: the etcd members.
  PhaseResult phase;
  // "etcdM/rN": M members, N replicas.
  std::string Label() const;
};

// The etcd binary EtcdCluster runs is installed; else why not.
bool EtcdPhaseAvailable();
std::string EtcdUnavailableMessage();

// Runs every (members, replicas, clients) phase, in that nesting order,
// keeping logs and sockets in `dir`. Returns the results, or the error of
// the first cluster, replica or first pair that failed to start (the
// processes started so far are stopped).
absl::StatusOr<std::vector<EtcdPhaseResult>> RunEtcdPhases(
    const EtcdPhaseOptions& options, const testing::TempDir& dir);

}  // namespace portlease::bench

#endif  // PORTLEASE_TESTS_BENCH_LOAD_ETCD_H_
