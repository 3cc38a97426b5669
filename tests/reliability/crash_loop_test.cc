// Crash loop: the real portleased on a SQLite file serves 16 concurrent
// clients (acquire with a request_id, hold and renew, release) through the
// real client library, and is killed with SIGKILL at random moments, 20
// times, and restarted on the same database each time.
//
// An independent checker reads every client's acknowledged leases and
// proves:
//   - no acknowledged, unexpired, unreleased lease is lost (Get after each
//     restart, and Renew never answers NOT_FOUND for one);
//   - no two live leases overlap: pairwise over the server's List after each
//     restart, and over time, per port, across every acknowledged lease's
//     [acknowledged, released-or-expired] interval;
//   - clients recover by themselves: after the last restart every client
//     completes more acquire/release cycles.
//
// The checker's own failures (its RPC timing out against a server that is
// restarting, or slow under a sanitizer) prove nothing either way: they are
// counted and printed as "could not check", never as violations. Deadlines
// and waits are multiplied by the build's time factor (Scaled()); no
// verdict depends on the machine's speed.
//
// Label `chaos`: about a minute of wall time. PORTLEASE_CHAOS_SEED fixes the
// random schedule (the seed used is printed).
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/client_interceptor.h"
#include "gtest/gtest.h"
#include "portlease/client.h"
#include "tests/server/daemon_process.h"
#include "tests/server/test_util.h"
#include "tests/support/test_ports.h"

namespace portlease {
namespace {

using ::portlease::testing::Scaled;

constexpr char kBinary[] = PORTLEASED_PATH;
constexpr int kClients = 16;
constexpr int kKills = 20;
constexpr uint32_t kPoolSize = 48;
// Scaled: a restart of a sanitizer build on a loaded machine takes
// seconds, and leases that expire while the server is down prove nothing.
const absl::Duration kTtl = Scaled(absl::Seconds(6));
constexpr absl::Duration kRenewEvery = absl::Milliseconds(400);

// Counts the Acquire RPCs actually sent on a channel, so that the library's
// own retries can be told apart from the application's calls.
class CountingInterceptor : public grpc::experimental::Interceptor {
 public:
  CountingInterceptor(grpc::experimental::ClientRpcInfo* info,
                      std::atomic<int64_t>* acquire_rpcs)
      : is_acquire_(absl::string_view(info->method()).find("/Acquire") !=
                    absl::string_view::npos),
        acquire_rpcs_(acquire_rpcs) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (is_acquire_ &&
        methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      acquire_rpcs_->fetch_add(1);
    }
    methods->Proceed();
  }

 private:
  const bool is_acquire_;
  std::atomic<int64_t>* const acquire_rpcs_;
};

class CountingFactory
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit CountingFactory(std::atomic<int64_t>* acquire_rpcs)
      : acquire_rpcs_(acquire_rpcs) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new CountingInterceptor(info, acquire_rpcs_);
  }

 private:
  std::atomic<int64_t>* const acquire_rpcs_;
};

// One acknowledged lease, as its client saw it.
struct AckedLease {
  std::string id;
  uint32_t base = 0;
  uint32_t count = 0;
  absl::Time acked;                       // Acquire answer received
  absl::Time expires;                     // last acknowledged expiry
  absl::Time released = absl::InfiniteFuture();  // Release sent
  bool releasing = false;
  bool done = false;  // released (acknowledged) or found expired
};

// What one client did; `mu` guards everything.
struct ClientLog {
  absl::Mutex mu;
  std::vector<AckedLease> leases ABSL_GUARDED_BY(mu);
  int64_t grants ABSL_GUARDED_BY(mu) = 0;
  int64_t releases ABSL_GUARDED_BY(mu) = 0;
  int64_t app_retries ABSL_GUARDED_BY(mu) = 0;
  int64_t expired ABSL_GUARDED_BY(mu) = 0;
  std::vector<std::string> violations ABSL_GUARDED_BY(mu);
};

struct Shared {
  std::string address;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> acquire_rpcs{0};
  std::atomic<int64_t> acquire_calls{0};
  std::atomic<int64_t> acquire_failures{0};  // after the library's retries
  std::atomic<int64_t> renew_failures{0};    // UNAVAILABLE and the like
  std::atomic<int64_t> release_failures{0};
  // Distinct failures seen by clients, for the report.
  absl::Mutex errors_mu;
  std::map<std::string, int> errors ABSL_GUARDED_BY(errors_mu);

  void NoteError(absl::string_view op, const absl::Status& status) {
    absl::MutexLock lock(&errors_mu);
    ++errors[absl::StrCat(op, ": ", absl::StatusCodeToString(status.code()),
                          ": ", status.message().substr(0, 80))];
  }
};

absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// Sleeps in small steps; false once `stop` is set.
bool Pause(const Shared& shared, absl::Duration d) {
  const absl::Time end = absl::Now() + d;
  while (absl::Now() < end) {
    if (shared.stop.load()) return false;
    absl::SleepFor(std::min(absl::Milliseconds(20), end - absl::Now()));
  }
  return !shared.stop.load();
}

void RunClient(int index, Shared* shared, ClientLog* log) {
  std::vector<std::unique_ptr<
      grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(std::make_unique<CountingFactory>(&shared->acquire_rpcs));
  auto channel = grpc::experimental::CreateCustomChannelWithInterceptors(
      shared->address, grpc::InsecureChannelCredentials(),
      grpc::ChannelArguments(), std::move(interceptors));
  ClientOptions options;
  options.rpc_timeout = Scaled(absl::Seconds(2));
  options.connect_timeout = Scaled(absl::Seconds(4));
  options.initial_backoff = absl::Milliseconds(50);
  options.max_backoff = absl::Milliseconds(800);
  Client client(channel, shared->address, options);
  std::mt19937 rng(1000 + index);

  while (!shared->stop.load()) {
    AcquireSpec spec;
    spec.count = 1 + rng() % 3;
    spec.ttl = kTtl;
    spec.owner = {{"client", absl::StrCat(index)}};
    spec.request_id = RandomRequestId();
    // The application's own retry loop: the same request_id every time, so
    // however often the server died, at most one lease is granted.
    absl::StatusOr<v1::Lease> lease;
    for (;;) {
      shared->acquire_calls.fetch_add(1);
      lease = client.Acquire(spec);
      if (lease.ok() || shared->stop.load()) break;
      shared->acquire_failures.fetch_add(1);
      shared->NoteError("acquire", lease.status());
      if (lease.status().code() == absl::StatusCode::kResourceExhausted) {
        spec.request_id = RandomRequestId();  // nothing was granted
      } else {
        absl::MutexLock lock(&log->mu);
        ++log->app_retries;
      }
      if (!Pause(*shared, absl::Milliseconds(50 + rng() % 100))) break;
    }
    if (!lease.ok()) break;
    size_t slot;
    {
      absl::MutexLock lock(&log->mu);
      ++log->grants;
      AckedLease acked;
      acked.id = lease->lease_id();
      acked.base = lease->base_port();
      acked.count = lease->count();
      acked.acked = absl::Now();
      acked.expires = ToTime(lease->expires_at());
      log->leases.push_back(acked);
      slot = log->leases.size() - 1;
      if (lease->request_id() != spec.request_id) {
        log->violations.push_back(absl::StrCat(
            "client ", index, ": lease ", acked.id.substr(0, 8),
            " answers request_id ", lease->request_id()));
      }
    }
    const std::string id = lease->lease_id();

    // Hold, renewing; then release.
    const absl::Time hold_until =
        absl::Now() + absl::Milliseconds(100 + rng() % 1400);
    bool lost = false;
    while (absl::Now() < hold_until && !shared->stop.load() && !lost) {
      Pause(*shared, std::min(kRenewEvery, hold_until - absl::Now()));
      absl::StatusOr<v1::Lease> renewed = client.Renew(id, kTtl);
      absl::MutexLock lock(&log->mu);
      AckedLease& acked = log->leases[slot];
      if (renewed.ok()) {
        acked.expires = ToTime(renewed->expires_at());
      } else if (renewed.status().code() == absl::StatusCode::kNotFound) {
        lost = true;
        acked.done = true;
        // The server decided before its answer arrived: only an answer
        // that arrived before the lease's expiry proves it was lost early.
        // One that arrives later may be a legitimate expiry (the server was
        // down, or the channel backing off, for longer than the ttl).
        if (acked.expires > absl::Now()) {
          log->violations.push_back(absl::StrCat(
              "client ", index, ": lease ", id.substr(0, 8),
              " lost before its expiry: ", renewed.status().ToString()));
        } else {
          ++log->expired;  // the server was down for longer than the ttl
          acked.released = acked.expires;
        }
      } else {
        ++log->app_retries;  // UNAVAILABLE: renew again at the next tick
        shared->renew_failures.fetch_add(1);
        shared->NoteError("renew", renewed.status());
      }
    }
    if (lost) continue;
    {
      absl::MutexLock lock(&log->mu);
      log->leases[slot].releasing = true;
      log->leases[slot].released = absl::Now();
    }
    for (;;) {
      absl::Status released = client.Release(id);
      {
        absl::MutexLock lock(&log->mu);
        AckedLease& acked = log->leases[slot];
        if (released.ok() || released.code() == absl::StatusCode::kNotFound) {
          // NOT_FOUND: an earlier attempt committed but its answer was lost
          // to a kill, or the lease expired; either way it has ended.
          acked.done = true;
          ++log->releases;
          break;
        }
        ++log->app_retries;
        shared->release_failures.fetch_add(1);
        shared->NoteError("release", released);
        if (absl::Now() > acked.expires) {  // expired meanwhile: ended
          acked.done = true;
          acked.released = std::min(acked.released, acked.expires);
          break;
        }
      }
      absl::SleepFor(absl::Milliseconds(50 + rng() % 100));
    }
  }
}

// What the checker found, besides violations.
struct CheckCounts {
  int64_t checked = 0;
  // Leases found gone after their expiry: not losses.
  int64_t expired_when_checked = 0;
  // The checker's own RPC failed (not NOT_FOUND): nothing was learned.
  std::vector<std::string> could_not_check;
};

// After a restart: every acknowledged lease that its client still holds and
// that has not expired must be there, unchanged; and the live leases the
// server lists must not overlap.

void CheckAfterRestart(const Client& checker, std::vector<ClientLog>& logs,
                       int restart, std::vector<std::string>* violations,
                       CheckCounts* counts) {
  for (size_t c = 0; c < logs.size(); ++c) {
    std::vector<AckedLease> held;
    {
      absl::MutexLock lock(&logs[c].mu);
      for (const AckedLease& lease : logs[c].leases) {
        if (lease.done || lease.releasing) continue;
        if (lease.expires < absl::Now() + absl::Seconds(1)) continue;
        held.push_back(lease);
      }
    }
    for (const AckedLease& lease : held) {
      // Only NOT_FOUND means lost; transport errors (the checker's own
      // connection broke with the old server) are retried.
      absl::StatusOr<v1::Lease> got = checker.Get(lease.id);
      for (int i = 0; i < 50 && absl::IsUnavailable(got.status()); ++i) {
        absl::SleepFor(absl::Milliseconds(100));
        got = checker.Get(lease.id);
      }
      const absl::Time answered = absl::Now();
      if (!got.ok() && !absl::IsNotFound(got.status())) {
        counts->could_not_check.push_back(absl::StrCat(
            "restart ", restart, ": Get ", lease.id.substr(0, 8), ": ",
            got.status().ToString()));
        continue;
      }
      ++counts->checked;
      if (got.ok()) {
        if (got->base_port() != lease.base || got->count() != lease.count) {
          violations->push_back(absl::StrCat(
              "restart ", restart, ": lease ", lease.id.substr(0, 8),
              " changed ports"));
        }
        continue;
      }
      // The client may have released it since the snapshot; and while the
      // checker retried through the restart, nobody could renew it, so it
      // may have expired by the time of the answer.
      absl::MutexLock lock(&logs[c].mu);
      bool still_held = false;
      for (const AckedLease& now : logs[c].leases) {
        if (now.id != lease.id || now.done || now.releasing) continue;
        still_held = now.expires > answered;
        if (!still_held) ++counts->expired_when_checked;  // in the summary
      }
      if (still_held) {
        violations->push_back(absl::StrCat(
            "restart ", restart, ": acknowledged lease ",
            lease.id.substr(0, 8), " of client ", c,
            " lost: ", got.status().ToString()));
      }
    }
  }
  absl::StatusOr<std::vector<v1::Lease>> listed = checker.List();
  for (int i = 0; i < 50 && absl::IsUnavailable(listed.status()); ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    listed = checker.List();
  }
  if (!listed.ok()) {
    counts->could_not_check.push_back(absl::StrCat(
        "restart ", restart, ": List: ", listed.status().ToString()));
    return;
  }
  std::map<uint32_t, std::string> owner_of;
  for (const v1::Lease& lease : *listed) {
    if (lease.state() != v1::LEASE_STATE_LIVE) continue;
    for (uint32_t p = lease.base_port(); p < lease.base_port() + lease.count();
         ++p) {
      auto [it, inserted] = owner_of.emplace(p, lease.lease_id_prefix());
      if (!inserted) {
        violations->push_back(absl::StrCat(
            "restart ", restart, ": port ", p, " in live leases ", it->second,
            " and ", lease.lease_id_prefix()));
      }
    }
  }
}

// Per port, the acknowledged intervals must not overlap.
void CheckIntervals(std::vector<ClientLog>& logs,
                    std::vector<std::string>* violations) {
  struct Span {
    absl::Time from, to;
    std::string id;
  };
  std::map<uint32_t, std::vector<Span>> by_port;
  for (ClientLog& log : logs) {
    absl::MutexLock lock(&log.mu);
    for (const AckedLease& lease : log.leases) {
      const absl::Time to = std::min(lease.released, lease.expires);
      for (uint32_t p = lease.base; p < lease.base + lease.count; ++p) {
        by_port[p].push_back({lease.acked, to, lease.id});
      }
    }
  }
  for (auto& [port, spans] : by_port) {
    std::sort(spans.begin(), spans.end(),
              [](const Span& a, const Span& b) { return a.from < b.from; });
    for (size_t i = 1; i < spans.size(); ++i) {
      if (spans[i].from < spans[i - 1].to && spans[i].id != spans[i - 1].id) {
        violations->push_back(absl::StrCat(
            "port ", port, " held by ", spans[i - 1].id.substr(0, 8), " until ",
            absl::FormatTime(spans[i - 1].to), " and by ",
            spans[i].id.substr(0, 8), " from ", absl::FormatTime(spans[i].from)));
      }
    }
  }
}

TEST(CrashLoopTest, KillNineTwentyTimesLosesNothingAndGrantsNothingTwice) {
  uint32_t seed = static_cast<uint32_t>(absl::ToUnixMicros(absl::Now()));
  if (const char* fixed = std::getenv("PORTLEASE_CHAOS_SEED")) {
    ASSERT_TRUE(absl::SimpleAtoi(fixed, &seed)) << fixed;
  }
  std::printf("crash loop seed=%u (PORTLEASE_CHAOS_SEED to repeat)\n", seed);
  std::mt19937 rng(seed);

  TempDir dir;
  const PortRange pool = TestPoolRange(kPoolSize);
  const std::vector<std::string> args = {
      "--listen=unix:" + dir.File("sock/portleased.sock"),
      "--db=" + dir.File("db/leases.db"),
      absl::StrCat("--pool=", pool.lo, "-", pool.hi),
      "--probe=none",
      "--cooldown=0s",
      "--max_ttl=1m",
      // The 16 clients share this process: per-caller rate limits would
      // throttle their retries after each restart.
      "--rate_limit=0"};
  int starts = 0;
  std::optional<DaemonProcess> daemon;
  auto start = [&]() -> absl::Status {
    daemon.reset();
    absl::StatusOr<DaemonProcess> started = DaemonProcess::Start(
        kBinary, args, dir.File(absl::StrCat("stderr", starts++)));
    if (!started.ok()) return started.status();
    daemon.emplace(*std::move(started));
    if (!daemon->ready()) {
      return absl::InternalError("portleased exited: " + daemon->Stderr());
    }
    return absl::OkStatus();
  };
  ASSERT_TRUE(start().ok());

  Shared shared;
  shared.address = daemon->addresses()[0];
  std::vector<ClientLog> logs(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back(RunClient, i, &shared, &logs[i]);
  }

  ClientOptions checker_options;
  checker_options.rpc_timeout = Scaled(absl::Seconds(5));
  Client checker(shared.address, checker_options);
  std::vector<std::string> violations;
  CheckCounts counts;
  int restarts = 0;
  absl::Duration down_total;
  const absl::Time began = absl::Now();
  for (int kill = 0; kill < kKills; ++kill) {
    absl::SleepFor(absl::Milliseconds(300 + rng() % 2200));
    const absl::Time killed = absl::Now();
    daemon->Stop(SIGKILL);
    // Sometimes stay down a little, so that clients see UNAVAILABLE.
    absl::SleepFor(absl::Milliseconds(rng() % 400));
    const absl::Status started = start();
    ASSERT_TRUE(started.ok()) << started;
    down_total += absl::Now() - killed;
    ++restarts;
    CheckAfterRestart(checker, logs, restarts, &violations, &counts);
  }

  // Recovery: with the server up for good, every client completes more
  // cycles.
  std::vector<int64_t> grants_before(kClients);
  for (int i = 0; i < kClients; ++i) {
    absl::MutexLock lock(&logs[i].mu);
    grants_before[i] = logs[i].releases;
  }
  const bool recovered = PollUntil(
      [&] {
        for (int i = 0; i < kClients; ++i) {
          absl::MutexLock lock(&logs[i].mu);
          if (logs[i].releases < grants_before[i] + 2) return false;
        }
        return true;
      },
      Scaled(absl::Seconds(30)));
  EXPECT_TRUE(recovered) << "some client made no progress after the last restart";
  shared.stop.store(true);
  for (std::thread& t : threads) t.join();
  CheckAfterRestart(checker, logs, restarts, &violations, &counts);
  CheckIntervals(logs, &violations);

  // Every client released what it held: nothing live is left.
  absl::StatusOr<std::vector<v1::Lease>> left = checker.List();
  for (int i = 0; i < 50 && !left.ok() && !absl::IsNotFound(left.status());
       ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    left = checker.List();
  }
  ASSERT_TRUE(left.ok()) << left.status();
  int64_t live_left = 0;
  for (const v1::Lease& lease : *left) {
    if (lease.state() == v1::LEASE_STATE_LIVE) ++live_left;
  }

  int64_t grants = 0, releases = 0, app_retries = 0, expired = 0;
  for (ClientLog& log : logs) {
    absl::MutexLock lock(&log.mu);
    grants += log.grants;
    releases += log.releases;
    app_retries += log.app_retries;
    expired += log.expired;
    violations.insert(violations.end(), log.violations.begin(),
                      log.violations.end());
  }
  const int64_t library_retries =
      shared.acquire_rpcs.load() - shared.acquire_calls.load();
  std::printf(
      "crash loop: clients=%d restarts=%d grants=%lld releases=%lld "
      "expired=%lld live_left=%lld acquire_rpcs=%lld library_retries=%lld "
      "app_retries=%lld (acquire=%lld renew=%lld release=%lld) gets_checked=%lld expired_when_checked=%lld could_not_check=%zu mean_downtime=%s elapsed=%s "
      "violations=%zu\n",
      kClients, restarts, static_cast<long long>(grants),
      static_cast<long long>(releases), static_cast<long long>(expired),
      static_cast<long long>(live_left),
      static_cast<long long>(shared.acquire_rpcs.load()),
      static_cast<long long>(library_retries),
      static_cast<long long>(app_retries),
      static_cast<long long>(shared.acquire_failures.load()),
      static_cast<long long>(shared.renew_failures.load()),
      static_cast<long long>(shared.release_failures.load()),
      static_cast<long long>(counts.checked),
      static_cast<long long>(counts.expired_when_checked),
      counts.could_not_check.size(),
      absl::FormatDuration(down_total / std::max(1, restarts)).c_str(),
      absl::FormatDuration(absl::Now() - began).c_str(), violations.size());
  {
    absl::MutexLock lock(&shared.errors_mu);
    for (const auto& [error, n] : shared.errors) {
      std::printf("  %5d x %s\n", n, error.c_str());
    }
  }
  for (const std::string& c : counts.could_not_check) {
    std::printf("could not check: %s\n", c.c_str());
  }
  for (const std::string& v : violations) std::printf("VIOLATION %s\n", v.c_str());
  EXPECT_TRUE(violations.empty());
  EXPECT_EQ(restarts, kKills);
  EXPECT_EQ(live_left, 0);
  // Every client got leases (how many depends on the machine's speed).
  EXPECT_GE(grants, kClients);
  EXPECT_EQ(daemon->Stop(SIGTERM).value_or(-1), 0) << daemon->Stderr();
}

}  // namespace
}  // namespace portlease
