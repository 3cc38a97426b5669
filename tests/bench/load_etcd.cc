#include "tests/bench/load_etcd.h"

#include <signal.h>
#include <sys/types.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/server/daemon_process.h"
#include "tests/support/etcd_cluster.h"

namespace portlease::bench {
namespace {

using testing::EtcdCluster;
using testing::TempDir;

absl::Status NotStarted(const std::string& what,
                        const absl::StatusOr<DaemonProcess>& process) {
  return absl::InternalError(absl::StrCat(
      what, " did not start: ",
      process.ok() ? process->Stderr() : process.status().ToString()));
}

// Makes sure LeasedPorts (inside EtcdCluster::Start) has a portleased to
// lease from: $PORTLEASE_TEST_ADDR if set, else a portleased started here,
// whose address is put in $PORTLEASE_TEST_ADDR (the one way LeasedPorts
// is told; the driver sets it once, before any etcd phase runs).
absl::StatusOr<std::optional<DaemonProcess>> StartPortSource(
    const EtcdPhaseOptions& options, const TempDir& dir) {
  const char* env = std::getenv("PORTLEASE_TEST_ADDR");
  if (env != nullptr && *env != '\0') return std::nullopt;
  absl::StatusOr<DaemonProcess> source = DaemonProcess::Start(
      options.portleased,
      {absl::StrCat("--listen=unix:", dir.File("etcd-ports.sock")),
       absl::StrCat("--db=", dir.File("etcd-ports.db")),
       absl::StrCat("--pool=", options.port_pool), "--probe=system"},
      dir.File("etcd-ports.log"));
  if (!source.ok() || !source->ready()) {
    return NotStarted("the portleased leasing etcd's ports", source);
  }
  setenv("PORTLEASE_TEST_ADDR", source->addresses().front().c_str(), 1);
  return std::optional<DaemonProcess>(*std::move(source));
}

// N replicas on one cluster, with a key prefix of their own.
absl::StatusOr<std::vector<DaemonProcess>> StartReplicas(
    const EtcdPhaseOptions& options, const TempDir& dir,
    const EtcdCluster& cluster, int replicas) {
  const std::string set = absl::StrCat("etcd", cluster.size(), "-r", replicas);
  std::vector<DaemonProcess> started;
  started.reserve(static_cast<size_t>(replicas));
  for (int i = 0; i < replicas; ++i) {
    const std::string name = absl::StrCat(set, "-", i);
    absl::StatusOr<DaemonProcess> replica = DaemonProcess::Start(
        options.portleased,
        {absl::StrCat("--listen=unix:", dir.File(name + ".sock")),
         "--store=etcd",
         absl::StrCat("--etcd-endpoints=",
                      absl::StrJoin(cluster.endpoints(), ",")),
         absl::StrCat("--etcd-prefix=/bench/", set, "/"),
         absl::StrCat("--pool=", options.pool), "--probe=none",
         // As the SQLite phases: capacity, not the per-caller limits.
         "--cooldown=0s", "--rate_limit=0", "--max_leases_per_owner=0",
         "--max_ports_per_owner=0"},
        dir.File(name + ".log"));
    if (!replica.ok() || !replica->ready()) {
      return NotStarted(absl::StrCat("portleased replica ", name), replica);
    }
    started.push_back(*std::move(replica));
  }
  return started;
}

// The client-count phases against one replica set.
absl::Status RunReplicaSet(const EtcdPhaseOptions& options,
                           const EtcdCluster& cluster,
                           const std::vector<DaemonProcess>& replicas,
                           std::vector<EtcdPhaseResult>& results) {
  std::vector<std::string> addresses;
  std::vector<pid_t> pids;
  for (const DaemonProcess& r : replicas) {
    addresses.push_back(r.addresses().front());
    pids.push_back(r.pid());
  }
  for (const std::string& address : addresses) {
    if (absl::Status s = LeasePairClient(address, 999).Pair(); !s.ok()) {
      return absl::InternalError(absl::StrCat(
          "first Acquire+Release on ", address, " failed: ", s.ToString()));
    }
  }
  for (int clients : options.clients) {
    EtcdPhaseResult result;
    result.members = cluster.size();
    result.replicas = static_cast<int>(replicas.size());
    result.phase = RunPhase(
        clients,
        [&](int i) {
          return std::make_unique<LeasePairClient>(
              addresses[static_cast<size_t>(i) % addresses.size()], i);
        },
        options.duration, pids, cluster.pids());
    results.push_back(std::move(result));
  }
  return absl::OkStatus();
}

}  // namespace

std::string EtcdPhaseResult::Label() const {
  return absl::StrCat("etcd", members, "/r", replicas);
}

bool EtcdPhaseAvailable() { return EtcdCluster::Installed(); }

std::string EtcdUnavailableMessage() {
  return EtcdCluster::NotInstalledMessage();
}

absl::StatusOr<std::vector<EtcdPhaseResult>> RunEtcdPhases(
    const EtcdPhaseOptions& options, const TempDir& dir) {
  absl::StatusOr<std::optional<DaemonProcess>> source =
      StartPortSource(options, dir);
  if (!source.ok()) return source.status();
  std::vector<EtcdPhaseResult> results;
  for (size_t members : options.members) {
    absl::StatusOr<std::unique_ptr<EtcdCluster>> cluster =
        EtcdCluster::Start(members);
    if (!cluster.ok()) return cluster.status();
    for (int count : options.replicas) {
      absl::StatusOr<std::vector<DaemonProcess>> replicas =
          StartReplicas(options, dir, **cluster, count);
      if (!replicas.ok()) return replicas.status();
      absl::Status ran = RunReplicaSet(options, **cluster, *replicas, results);
      for (DaemonProcess& r : *replicas) r.Stop(SIGTERM);
      if (!ran.ok()) return ran;
    }
  }
  if (*source) (*source)->Stop(SIGTERM);
  return results;
}

}  // namespace portlease::bench
