// Replicated chaos test: 3 etcd members, 3 real portleased replicas
// (--store=etcd, --probe=none, a pool of 64 ports that are only numbers in
// etcd, lease TTLs of 3-4 s, 1 s cool-down) and 16 client threads, each
// with a PORTLEASE_ADDR-style list of the three replicas starting at a
// different one, so that failover is exercised. Each client loops: Acquire
// 1-5 ports (the same request_id when it retries an unanswered Acquire),
// Renew 0-2 times (each time with the same TTL, the grant's or a longer
// one), then Release, or let the lease expire one time in five. Every
// call's outcome goes to the client's log with wall-clock times taken
// before the call and after its answer (chaos_checker.h has the format).
// A replica that stops answering is left by the client library itself
// (its pings go unanswered, or a call's deadline passes).
//
// Meanwhile, for PORTLEASE_CHAOS_SECONDS (60 by default) the chaos thread
// SIGKILLs a replica every 3-5 s and restarts it, SIGKILLs one etcd member
// a quarter of the way in and restarts it 5 s later, and halfway in
// SIGSTOPs the replica most clients use for 6 s (longer than any lease's
// TTL: its cache goes stale, its calls in flight finish late) and SIGCONTs
// it. Only processes this test started are signalled; everything is on
// loopback, etcd's ports are leased from the suite's server, the replicas
// listen on Unix sockets.
//
// Then the independent checker (chaos_checker.h), reading only the logs,
// proves: no port held by two acknowledged, unexpired, unreleased leases at
// once; no acknowledged lease ended before its acknowledged expiry; fencing
// tokens in grant order; every failure a clear gRPC status (UNAVAILABLE,
// DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED are counted, not failures). The
// summary line gives the counts. PORTLEASE_CHAOS_SEED repeats a schedule.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "portlease/client.h"
#include "testing/time_scale.h"
#include "tests/client/test_support.h"
#include "tests/server/replicated/chaos_checker.h"
#include "tests/support/etcd_cluster.h"

namespace portlease::testing {
namespace {

using chaos::FormatAcquired;
using chaos::FormatFailed;
using chaos::FormatReleased;
using chaos::FormatRenewed;

constexpr int kClients = 16;
constexpr int kReplicas = 3;
constexpr char kPool[] = "21000-21063";  // 64 ports, numbers only
constexpr absl::Duration kTtl = absl::Seconds(3);
constexpr absl::Duration kLongTtl = absl::Seconds(4);
constexpr absl::Duration kStopFor = absl::Seconds(6);  // > kLongTtl

absl::Duration ChaosDuration() {
  int seconds = 60;
  if (const char* env = std::getenv("PORTLEASE_CHAOS_SECONDS")) {
    if (!absl::SimpleAtoi(env, &seconds) || seconds < 1) seconds = 60;
  }
  return absl::Seconds(seconds);
}

// The replicas: real portleased processes this test started and only
// signals by their pids.
class Replicas {
 public:
  Replicas(std::string dir, std::vector<std::string> endpoints)
      : dir_(std::move(dir)),
        endpoints_(std::move(endpoints)),
        procs_(kReplicas) {}

  std::string address(int i) const {
    return absl::StrCat("unix:", dir_, "/r", i, ".sock");
  }
  bool running(int i) const { return procs_[i] != nullptr; }

  // Starts replica i and waits until it answers Status.
  absl::Status Start(int i) {
    std::vector<std::string> argv = {
        PORTLEASED_BIN,
        "--listen=" + address(i),
        "--store=etcd",
        "--etcd-endpoints=" + absl::StrJoin(endpoints_, ","),
        "--etcd-prefix=/chaos/",
        "--pool=" + std::string(kPool),
        "--probe=none",
        "--hold_grace=2s",
        "--cooldown=1s",
        "--rate_limit=0",
        "--max_ports_per_owner=0"};
    absl::StatusOr<std::unique_ptr<Process>> started =
        Process::Start(argv, {}, dir_);
    if (!started.ok()) return started.status();
    procs_[i] = *std::move(started);
    ClientOptions options;
    options.rpc_timeout = absl::Seconds(1);
    options.connect_timeout = absl::ZeroDuration();
    Client probe(address(i), options);
    absl::Status last;
    const bool up = PollUntil(
        [&] {
          last = probe.Status().status();
          return last.ok();
        },
        Scaled(absl::Seconds(20)));
    if (up) return absl::OkStatus();
    const std::string err = procs_[i]->err();
    Kill(i);
    return absl::UnavailableError(absl::StrCat(
        "replica ", i, " did not start: ", last.ToString(), "\n", err));
  }
  void Kill(int i) {
    if (!procs_[i]) return;
    kill(procs_[i]->pid(), SIGKILL);
    (void)procs_[i]->Wait(Scaled(absl::Seconds(10)));
    procs_[i].reset();
  }
  absl::Status Stop(int i) {
    if (!procs_[i]) return absl::FailedPreconditionError("not running");
    return StopProcess(procs_[i]->pid());
  }
  void Continue(int i) {
    if (procs_[i]) kill(procs_[i]->pid(), SIGCONT);
  }

 private:
  const std::string dir_;
  const std::vector<std::string> endpoints_;
  std::vector<std::unique_ptr<Process>> procs_;
};

// Sleeps up to `d` in small steps; false once `stop` is set.
bool Pause(const std::atomic<bool>& stop, absl::Duration d) {
  const absl::Time end = absl::Now() + d;
  while (absl::Now() < end) {
    if (stop.load()) return false;
    absl::SleepFor(std::min(absl::Milliseconds(20), end - absl::Now()));
  }
  return !stop.load();
}

absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// One client's loop; its log lines go to `log`.
class ChaosClient {
 public:
  ChaosClient(int index, std::vector<std::string> addresses, uint32_t seed,
              const std::atomic<bool>* stop, std::vector<std::string>* log,
              std::atomic<int>* on)
      : index_(index),
        client_(std::move(addresses), Options()),
        rng_(seed),
        stop_(*stop),
        log_(*log),
        on_(*on) {}

  void Run() {
    while (!stop_.load()) {
      Publish();
      std::optional<v1::Lease> lease = Acquire();
      if (!lease) continue;
      if (!Hold(*lease)) continue;    // ended, or the test is stopping
      if (rng_() % 5 == 0) continue;  // let it expire
      Release(*lease);
    }
  }

 private:
  static ClientOptions Options() {
    ClientOptions options;
    options.rpc_timeout = Scaled(absl::Seconds(2));
    options.connect_timeout = Scaled(absl::Seconds(3));
    options.initial_backoff = absl::Milliseconds(50);
    options.max_backoff = absl::Milliseconds(500);
    return options;
  }

  // Which replica this client's calls go to now (its list starts at
  // replica index_ % kReplicas), for the chaos thread.
  void Publish() {
    const std::vector<std::string>& all = client_.addresses();
    const size_t at = static_cast<size_t>(
        std::find(all.begin(), all.end(), client_.address()) - all.begin());
    on_.store(static_cast<int>((index_ + at) % kReplicas));
  }

  std::optional<v1::Lease> Acquire() {
    AcquireSpec spec;
    spec.count = 1 + rng_() % 5;
    spec.ttl = kTtl;
    spec.owner = {{"client", absl::StrCat(index_)}};
    spec.request_id = RandomRequestId();
    // An unanswered Acquire is retried (at most twice) with its request_id:
    // the lease it may have granted is the answer.
    for (int attempt = 0; attempt < 3 && !stop_.load(); ++attempt) {
      const absl::Time sent = absl::Now();
      absl::StatusOr<v1::Lease> lease = client_.Acquire(spec);
      const absl::Time answered = absl::Now();
      if (lease.ok()) {
        log_.push_back(FormatAcquired(sent, answered, lease->lease_id(),
                                      spec.request_id, lease->base_port(),
                                      lease->count(), lease->fencing_token(),
                                      ToTime(lease->expires_at())));
        // Every renewal of this lease asks for the same TTL, its grant's or
        // a longer one (moving its keys to another etcd lease): a renewal
        // applied late, after a later one, then never shortens it.
        renew_ttl_ = rng_() % 2 == 0 ? kTtl : kLongTtl;
        return *std::move(lease);
      }
      log_.push_back(FormatFailed(sent, answered, "acquire", spec.request_id,
                                  lease.status()));
      if (!absl::IsUnavailable(lease.status()) &&
          !absl::IsDeadlineExceeded(lease.status())) {
        Pause(stop_, absl::Milliseconds(100 + rng_() % 200));
        break;
      }
      Pause(stop_, absl::Milliseconds(50 + rng_() % 100));
    }
    return std::nullopt;
  }

  // Renews 0-2 times; false when the lease ended (or the test stops).
  bool Hold(const v1::Lease& lease) {
    const int renewals = static_cast<int>(rng_() % 3);
    for (int i = 0; i <= renewals; ++i) {
      if (!Pause(stop_, absl::Milliseconds(200 + rng_() % 1200))) return false;
      if (i == renewals) break;
      const absl::Time sent = absl::Now();
      absl::StatusOr<v1::Lease> renewed =
          client_.Renew(lease.lease_id(), renew_ttl_, absl::ZeroDuration(),
                        lease.fencing_token());
      const absl::Time answered = absl::Now();
      if (renewed.ok()) {
        log_.push_back(FormatRenewed(sent, answered, lease.lease_id(),
                                     ToTime(renewed->expires_at())));
        continue;
      }
      log_.push_back(FormatFailed(sent, answered, "renew", lease.lease_id(),
                                  renewed.status()));
      if (absl::IsNotFound(renewed.status())) return false;
    }
    return true;
  }

  // Releases, retrying an unanswered release at most twice.
  void Release(const v1::Lease& lease) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      const absl::Time sent = absl::Now();
      absl::Status released = client_.Release(
          lease.lease_id(), absl::ZeroDuration(), lease.fencing_token());
      const absl::Time answered = absl::Now();
      if (released.ok()) {
        log_.push_back(FormatReleased(sent, answered, lease.lease_id()));
        return;
      }
      log_.push_back(
          FormatFailed(sent, answered, "release", lease.lease_id(), released));
      if (!absl::IsUnavailable(released) &&
          !absl::IsDeadlineExceeded(released)) {
        return;
      }
      if (!Pause(stop_, absl::Milliseconds(50 + rng_() % 100))) return;
    }
  }

  const int index_;
  Client client_;
  std::mt19937 rng_;
  const std::atomic<bool>& stop_;
  std::vector<std::string>& log_;
  std::atomic<int>& on_;
  absl::Duration renew_ttl_ = kTtl;
};

// The chaos schedule, run on its own thread; what it did goes to `events`
// and anything that went wrong (a replica or member that did not come
// back) to `errors`. Returns with every replica and member running.
class Chaos {
 public:
  // `on`: the replica each client uses now (ChaosClient::Publish).
  Chaos(Replicas* replicas, EtcdCluster* cluster, uint32_t seed,
        const std::vector<std::atomic<int>>* on)
      : replicas_(*replicas), cluster_(*cluster), rng_(seed), on_(*on) {}

  void Run(absl::Duration duration) {
    const absl::Time begin = absl::Now();
    const absl::Time end = begin + duration;
    const absl::Time etcd_kill_at = begin + duration / 4;
    const absl::Time etcd_back_at = etcd_kill_at + absl::Seconds(5);
    const absl::Time stop_at = begin + duration / 2;
    const absl::Time cont_at = stop_at + kStopFor;
    absl::Time next_kill = begin + absl::Seconds(2);
    int member = -1;   // the etcd member that is down
    int stopped = -1;  // the replica that is stopped
    bool etcd_done = false, stop_done = false;
    while (absl::Now() < end || member >= 0 || stopped >= 0) {
      const absl::Time now = absl::Now();
      if (!etcd_done && member < 0 && now >= etcd_kill_at) {
        member = static_cast<int>(rng_() % cluster_.size());
        Note(cluster_.Kill(member), "etcd member ", member, " killed");
      } else if (member >= 0 && now >= etcd_back_at) {
        Note(cluster_.Restart(member), "etcd member ", member, " restarted");
        member = -1;
        etcd_done = true;
      }
      if (!stop_done && stopped < 0 && now >= stop_at) {
        stopped = Busiest();
        Note(replicas_.Stop(stopped), "replica ", stopped,
             " stopped (the one most clients use)");
      } else if (stopped >= 0 && now >= cont_at) {
        replicas_.Continue(stopped);
        Note(absl::OkStatus(), "replica ", stopped, " continued");
        stopped = -1;
        stop_done = true;
      }
      if (now >= next_kill && now < end) {
        int victim = static_cast<int>(rng_() % kReplicas);
        if (victim == stopped) victim = (victim + 1) % kReplicas;
        replicas_.Kill(victim);
        absl::SleepFor(absl::Milliseconds(rng_() % 800));
        Note(replicas_.Start(victim), "replica ", victim, " killed, restarted");
        next_kill = absl::Now() + absl::Milliseconds(3000 + rng_() % 2000);
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    for (int i = 0; i < kReplicas; ++i) {
      if (!replicas_.running(i))
        Note(replicas_.Start(i), "replica ", i, " started");
    }
  }

  std::vector<std::string> events;
  std::vector<std::string> errors;

 private:
  template <typename... Args>
  void Note(const absl::Status& status, const Args&... what) {
    const std::string line = absl::StrCat(
        absl::FormatTime("%H:%M:%E3S ", absl::Now(), absl::UTCTimeZone()),
        what...);
    events.push_back(status.ok() ? line
                                 : absl::StrCat(line, ": ", status.ToString()));
    if (!status.ok()) errors.push_back(events.back());
  }

  // The replica most clients use now: stopping it makes their calls time
  // out, rather than those of nobody.
  int Busiest() const {
    std::vector<int> users(kReplicas);
    for (const std::atomic<int>& replica : on_) ++users[replica.load()];
    return static_cast<int>(std::max_element(users.begin(), users.end()) -
                            users.begin());
  }

  Replicas& replicas_;
  EtcdCluster& cluster_;
  std::mt19937 rng_;
  const std::vector<std::atomic<int>>& on_;
};

TEST(ReplicatedChaosTest,
     KilledStoppedReplicasAndAnEtcdMemberNeverDoubleGrant) {
  if (!EtcdCluster::Installed()) {
    GTEST_SKIP() << EtcdCluster::NotInstalledMessage();
  }
  uint32_t seed = static_cast<uint32_t>(absl::ToUnixMicros(absl::Now()));
  if (const char* fixed = std::getenv("PORTLEASE_CHAOS_SEED")) {
    ASSERT_TRUE(absl::SimpleAtoi(fixed, &seed)) << fixed;
  }
  const absl::Duration duration = ChaosDuration();
  std::printf("replicated chaos seed=%u duration=%s\n", seed,
              absl::FormatDuration(duration).c_str());
  const absl::Time began = absl::Now();
  absl::StatusOr<std::unique_ptr<EtcdCluster>> cluster = EtcdCluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  TempDir dir;
  Replicas replicas(dir.path(), (*cluster)->endpoints());
  for (int i = 0; i < kReplicas; ++i) {
    const absl::Status started = replicas.Start(i);
    ASSERT_TRUE(started.ok()) << started;
  }

  std::atomic<bool> stop{false};
  std::vector<std::vector<std::string>> logs(kClients);
  std::vector<std::atomic<int>> on(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    std::vector<std::string> addresses;
    for (int k = 0; k < kReplicas; ++k) {
      addresses.push_back(replicas.address((i + k) % kReplicas));
    }
    threads.emplace_back([&, i, addresses] {
      ChaosClient(i, addresses, seed + 1 + i, &stop, &logs[i], &on[i]).Run();
    });
  }
  Chaos chaos(&replicas, cluster->get(), seed, &on);
  std::thread chaos_thread([&] { chaos.Run(duration); });
  chaos_thread.join();
  // A few calm seconds with everything up, then the clients stop.
  absl::SleepFor(absl::Seconds(3));
  stop.store(true);
  for (std::thread& t : threads) t.join();

  // The checker reads the logs back from their files, and nothing else.
  std::vector<std::string> texts;
  for (int i = 0; i < kClients; ++i) {
    const std::string path = dir.File(absl::StrCat("client", i, ".log"));
    WriteFile(path, absl::StrJoin(logs[i], "\n") + "\n");
    texts.push_back(ReadFileOrEmpty(path));
  }
  const chaos::ChaosCheck check = chaos::CheckChaosLogs(texts);
  std::printf("replicated chaos: %s elapsed=%s\n", check.Summary().c_str(),
              absl::FormatDuration(
                  absl::Trunc(absl::Now() - began, absl::Milliseconds(100)))
                  .c_str());
  std::printf("chaos events:\n  %s\n",
              absl::StrJoin(chaos.events, "\n  ").c_str());
  EXPECT_TRUE(check.ok()) << check.Violations();
  EXPECT_TRUE(chaos.errors.empty()) << absl::StrJoin(chaos.errors, "\n");
  // The clients did get leases through the chaos: the check checked something.
  EXPECT_GT(check.leases, 2 * kClients) << check.Summary();
}

}  // namespace
}  // namespace portlease::testing
