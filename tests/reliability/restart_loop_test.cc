// Restart loop: the real portleased on a SQLite file is killed with SIGKILL
// and restarted at once on the same socket and database, 20 times, while 8
// clients of the real client library (default retry policy: connect
// deadline, same request_id on retries) run an Acquire / Renew / Release
// mix. Every client call must succeed: the library rides out each restart.
//
// Checked:
//   - failed calls: any call that does not return OK;
//   - leases lost: a Renew or Release answering NOT_FOUND for a lease the
//     client holds (ttls are long: nothing expires);
//   - granted twice: two of the clients' live leases sharing a port, or a
//     lease left live at the end that no client knows of (a retried Acquire
//     granted a second lease instead of returning the first);
//   - missing from the audit trail: a grant, renewal or release the client
//     was told of that `Events` does not have after the last restart (the
//     server records an event with its change, so no kill -9 loses one).
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "portlease/client.h"
#include "tests/client/test_support.h"
#include "tests/server/daemon_process.h"
#include "tests/support/test_ports.h"

namespace portlease::testing {
namespace {

constexpr int kClients = 8;
constexpr int kRounds = 20;
const absl::Duration kTtl = absl::Minutes(5);

struct Totals {
  std::atomic<int64_t> calls{0};
  std::atomic<int64_t> failures{0};
  std::atomic<int64_t> lost{0};
  std::atomic<int64_t> twice{0};
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  // Port -> id of the client lease holding it (live for sure).
  std::map<uint32_t, std::string> held ABSL_GUARDED_BY(mu);
  std::vector<std::string> errors ABSL_GUARDED_BY(mu);
  // "grant 1a2b3c4d", "renew ...", "release ...": each change a client was
  // told of, and how many times.
  std::map<std::string, int> acknowledged ABSL_GUARDED_BY(mu);

  void Acknowledged(const std::string& type, const std::string& id) {
    absl::MutexLock lock(&mu);
    ++acknowledged[absl::StrCat(type, " ", id.substr(0, 8))];
  }

  void Fail(int client, const std::string& what, const absl::Status& status) {
    (status.code() == absl::StatusCode::kNotFound ? lost : failures)
        .fetch_add(1);
    absl::MutexLock lock(&mu);
    if (errors.size() < 20) {
      errors.push_back(
          absl::StrCat("client ", client, " ", what, ": ", status.ToString()));
    }
  }
};

void RunClient(int index, const std::string& address, Totals* totals) {
  ClientOptions options;
  options.rpc_timeout = Scaled(absl::Seconds(5));
  options.connect_timeout = Scaled(absl::Seconds(10));
  Client client(address, options);
  std::mt19937 rng(100 + index);
  while (!totals->stop.load()) {
    AcquireSpec spec;
    spec.count = 1 + rng() % 3;
    spec.ttl = kTtl;
    spec.owner = {{"client", absl::StrCat(index)}};
    totals->calls.fetch_add(1);
    absl::StatusOr<v1::Lease> lease = client.Acquire(spec);
    if (!lease.ok()) {
      totals->Fail(index, "acquire", lease.status());
      continue;
    }
    const std::string id = lease->lease_id();
    totals->Acknowledged("grant", id);
    {
      absl::MutexLock lock(&totals->mu);
      for (uint32_t p = lease->base_port();
           p < lease->base_port() + lease->count(); ++p) {
        auto [it, inserted] = totals->held.emplace(p, id);
        if (!inserted) {
          totals->twice.fetch_add(1);
          totals->errors.push_back(absl::StrCat("port ", p, " granted to ",
                                                id.substr(0, 8), " and ",
                                                it->second.substr(0, 8)));
        }
      }
    }
    const int renewals = static_cast<int>(rng() % 3);
    for (int r = 0; r < renewals && !totals->stop.load(); ++r) {
      absl::SleepFor(absl::Milliseconds(rng() % 40));
      totals->calls.fetch_add(1);
      absl::StatusOr<v1::Lease> renewed = client.Renew(id);
      if (!renewed.ok()) {
        totals->Fail(index, "renew", renewed.status());
      } else {
        totals->Acknowledged("renew", id);
      }
    }
    {
      // Forgotten before the Release: once it commits, the ports may be
      // granted again at once.
      absl::MutexLock lock(&totals->mu);
      for (uint32_t p = lease->base_port();
           p < lease->base_port() + lease->count(); ++p) {
        totals->held.erase(p);
      }
    }
    totals->calls.fetch_add(1);
    absl::Status released = client.Release(id);
    if (!released.ok()) {
      totals->Fail(index, "release", released);
    } else {
      totals->Acknowledged("release", id);
    }
  }
}

TEST(RestartLoopTest, ClientsRideOutTwentyKillNineRestarts) {
  TempDir dir;
  const std::vector<std::string> args = {
      "--listen=unix:" + dir.File("portleased.sock"),
      "--db=" + dir.File("leases.db"),
      // Nobody binds these ports (--probe=none): any numbers will do.
      "--pool=21000-21127", "--probe=none", "--cooldown=0s",
      "--rate_limit=0"};
  int starts = 0;
  std::optional<DaemonProcess> daemon;
  auto start = [&] {
    absl::StatusOr<DaemonProcess> started = DaemonProcess::Start(
        PORTLEASED_BIN, args, dir.File(absl::StrCat("stderr", starts++)),
        Scaled(absl::Seconds(20)));
    ASSERT_TRUE(started.ok()) << started.status();
    ASSERT_TRUE(started->ready()) << started->Stderr();
    daemon.emplace(*std::move(started));
  };
  start();
  const std::string address = daemon->addresses()[0];

  Totals totals;
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back(RunClient, i, address, &totals);
  }
  std::mt19937 rng(7);
  const absl::Time began = absl::Now();
  absl::Duration down;
  int64_t calls_at_last_restart = 0;
  for (int round = 0; round < kRounds; ++round) {
    absl::SleepFor(absl::Milliseconds(100 + rng() % 200));
    const absl::Time killed = absl::Now();
    daemon->Stop(SIGKILL);
    daemon.reset();
    start();
    down += absl::Now() - killed;
    calls_at_last_restart = totals.calls.load();
  }
  // Every client works after the last restart.
  absl::SleepFor(absl::Milliseconds(300));
  totals.stop.store(true);
  for (std::thread& t : threads) t.join();
  const absl::Duration took = absl::Now() - began;

  ClientOptions options;
  options.rpc_timeout = Scaled(absl::Seconds(5));
  Client checker(address, options);
  absl::StatusOr<std::vector<v1::Lease>> left = checker.List();
  ASSERT_TRUE(left.ok()) << left.status();
  int64_t orphans = 0;
  for (const v1::Lease& lease : *left) {
    if (lease.state() == v1::LEASE_STATE_LIVE) ++orphans;
  }
  // The audit trail, every page.
  std::map<std::string, int> recorded;
  uint64_t after = 0;
  for (int page = 0; page < 10000; ++page) {
    absl::StatusOr<v1::EventsResponse> events = checker.Events(after);
    ASSERT_TRUE(events.ok()) << events.status();
    for (const v1::Event& e : events->events()) {
      ++recorded[absl::StrCat(e.type(), " ", e.lease_id_prefix())];
    }
    if (!events->more()) break;
    after = events->next_after_seq();
  }
  int64_t missing = 0;
  int64_t acknowledged = 0;
  {
    absl::MutexLock lock(&totals.mu);
    for (const auto& [change, times] : totals.acknowledged) {
      acknowledged += times;
      // A retried call may be told twice of one change (a Release whose
      // first reply was lost): each change is in the trail at least once.
      if (recorded[change] == 0) {
        if (++missing <= 10) {
          totals.errors.push_back(absl::StrCat(change, ": acknowledged, "
                                               "not in the audit trail"));
        }
      }
    }
  }

  std::printf(
      "restart loop: %d kill -9 + restart rounds in %s (server down %s in "
      "total), %d clients, %lld calls, %lld failed, %lld leases lost, %lld "
      "ports granted twice, %lld leases left live, %lld of %lld "
      "acknowledged changes missing from the audit trail\n",
      kRounds, absl::FormatDuration(took).c_str(),
      absl::FormatDuration(down).c_str(), kClients,
      static_cast<long long>(totals.calls.load()),
      static_cast<long long>(totals.failures.load()),
      static_cast<long long>(totals.lost.load()),
      static_cast<long long>(totals.twice.load()),
      static_cast<long long>(orphans), static_cast<long long>(missing),
      static_cast<long long>(acknowledged));
  absl::MutexLock lock(&totals.mu);
  for (const std::string& e : totals.errors) std::printf("  %s\n", e.c_str());
  EXPECT_EQ(totals.failures.load(), 0);
  EXPECT_EQ(totals.lost.load(), 0);
  EXPECT_EQ(totals.twice.load(), 0);
  EXPECT_EQ(orphans, 0);
  EXPECT_EQ(missing, 0);
  EXPECT_GT(acknowledged, 0);
  EXPECT_GT(totals.calls.load(), calls_at_last_restart);
}

}  // namespace
}  // namespace portlease::testing
