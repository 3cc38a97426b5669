// Several EtcdLeaseBackends, each with its own client, on one 3-member etcd
// cluster: concurrent grants never share a port, a replica whose view is
// stale grants nothing taken, stale fencing tokens act on nothing, and a
// held lease outlives its replica when its holder attaches elsewhere.
#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/replicated/etcd_lease_backend.h"
#include "testing/poll_until.h"
#include "tests/server/replicated/replicated_test_util.h"

namespace portlease::replicated {
namespace {

using ::testing::HasSubstr;

using ReplicasTest = ReplicatedTest<3>;

// One grant as a worker saw it: held at least from `granted` (Acquire
// returned) to `released` (Release called).
struct Held {
  LeaseRecord lease;
  absl::Time granted;
  absl::Time released;
};

TEST_F(ReplicasTest, ConcurrentReplicasNeverGrantAPortTwice) {
  EtcdLeaseBackendOptions options = TestOptions({42000, 42019});
  // No cool-down: released ports are raced for again at once.
  options.quarantine = absl::ZeroDuration();
  std::vector<Replica> replicas;
  for (int i = 0; i < 3; ++i) {
    replicas.push_back(MakeReplica(cluster_->endpoints(), options, &clock_));
    ASSERT_NE(replicas.back().backend, nullptr);
  }
  absl::Mutex mu;
  std::vector<Held> history;
  std::map<std::string, int> refused;  // code: message seen
  std::atomic<bool> failed{false};
  const absl::Time end = absl::Now() + absl::Seconds(4);
  std::vector<std::thread> workers;
  for (int w = 0; w < 8; ++w) {
    workers.emplace_back([&, w] {
      EtcdLeaseBackend& backend = *replicas[w % 3].backend;
      std::mt19937 random(w);
      const std::string caller = absl::StrCat("uid:", 2000 + w);
      while (absl::Now() < end) {
        const uint32_t count = 1 + random() % 5;
        absl::StatusOr<LeaseRecord> lease = backend.Acquire(Ask(count, caller));
        if (!lease.ok()) {
          const bool clear = !lease.status().message().empty() &&
                             (absl::IsResourceExhausted(lease.status()) ||
                              absl::IsUnavailable(lease.status()));
          if (!clear) failed = true;
          {
            absl::MutexLock lock(&mu);
            ++refused[absl::StatusCodeToString(lease.status().code())];
          }
          absl::SleepFor(absl::Milliseconds(1 + random() % 5));
          continue;
        }
        Held held{*lease, absl::Now(), absl::InfinitePast()};
        absl::SleepFor(absl::Milliseconds(random() % 20));
        held.released = absl::Now();
        absl::Status released = backend.Release(lease->id, Principal{caller, ""});
        if (!released.ok()) failed = true;
        absl::MutexLock lock(&mu);
        history.push_back(std::move(held));
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  EXPECT_FALSE(failed.load());
  for (const auto& [code, n] : refused) {
    EXPECT_TRUE(code == "RESOURCE_EXHAUSTED" || code == "UNAVAILABLE") << code;
  }
  std::cout << history.size() << " grants released; refused:";
  for (const auto& [code, n] : refused) std::cout << " " << code << " " << n;
  std::cout << "\n";
  ASSERT_GT(history.size(), 20u);
  // Per port, by fencing token (etcd's order of the grants): each lease was
  // given up before the next one was granted.
  std::map<Port, std::vector<const Held*>> by_port;
  std::set<uint64_t> tokens;
  for (const Held& held : history) {
    EXPECT_TRUE(tokens.insert(held.lease.fencing_token).second);
    for (uint32_t p = held.lease.base; p <= held.lease.last(); ++p) {
      by_port[static_cast<Port>(p)].push_back(&held);
    }
  }
  for (auto& [port, leases] : by_port) {
    std::sort(leases.begin(), leases.end(), [](const Held* a, const Held* b) {
      return a->lease.fencing_token < b->lease.fencing_token;
    });
    for (size_t i = 1; i < leases.size(); ++i) {
      EXPECT_LE(leases[i - 1]->released, leases[i]->granted)
          << "port " << port << " held by " << leases[i - 1]->lease.id
          << " and " << leases[i]->lease.id << " at once";
    }
  }
}

TEST_F(ReplicasTest, AStaleReplicaNeverGrantsATakenPort) {
  EtcdLeaseBackendOptions options = TestOptions({43000, 43009});
  // A watches (and first calls) member 1, which then freezes: its watch
  // stays silent while B takes every port through the other members.
  etcd::EtcdOptions a_options;
  a_options.endpoints = {cluster_->endpoint(1), cluster_->endpoint(0)};
  a_options.call_timeout = testing::Scaled(absl::Seconds(2));
  a_options.keepalive_time = absl::Seconds(60);
  absl::StatusOr<std::unique_ptr<etcd::EtcdClient>> a_client =
      etcd::EtcdClient::Connect(a_options);
  ASSERT_TRUE(a_client.ok()) << a_client.status();
  absl::StatusOr<std::unique_ptr<EtcdLeaseBackend>> a =
      EtcdLeaseBackend::Create(options, &clock_, a_client->get());
  ASSERT_TRUE(a.ok()) << a.status();
  Replica b = MakeReplica({cluster_->endpoint(0), cluster_->endpoint(2)},
                          options, &clock_);
  ASSERT_NE(b.backend, nullptr);

  ASSERT_TRUE(cluster_->Stop(1).ok());
  std::vector<LeaseRecord> taken;
  for (int i = 0; i < 10; ++i) {
    // Member 1 may have been the leader: B waits out the election.
    absl::StatusOr<LeaseRecord> lease;
    ASSERT_TRUE(testing::PollUntil(
        [&] {
          lease = b.backend->Acquire(Ask(1, "uid:7"));
          return lease.ok();
        },
        absl::Seconds(15)))
        << lease.status();
    taken.push_back(*lease);
  }
  bool exhausted = false;
  for (int i = 0; i < 6 && !exhausted; ++i) {
    absl::StatusOr<LeaseRecord> stale = (*a)->Acquire(Ask(1, "uid:8"));
    ASSERT_FALSE(stale.ok()) << "granted taken port " << stale->base;
    exhausted = absl::IsResourceExhausted(stale.status());
    std::cout << "stale replica: " << stale.status() << "\n";
    // A's cache did not know: its candidates lost their Txns.
    if (exhausted) {
      EXPECT_THAT(std::string(stale.status().message()),
                  HasSubstr("taken by other servers first"));
    }
    EXPECT_TRUE(exhausted || absl::IsUnavailable(stale.status())) << stale.status();
  }
  EXPECT_TRUE(exhausted);
  ASSERT_TRUE(cluster_->Cont(1).ok());
  for (const LeaseRecord& lease : taken) {
    EXPECT_TRUE(b.backend->Get(lease.id, Principal{"uid:7", ""}).ok());
  }
  a->reset();
}

TEST_F(ReplicasTest, AWatchCompactedPastReloadsTheCache) {
  EtcdLeaseBackendOptions options = TestOptions({43400, 43409});
  // A watches member 1, which freezes; its watch notices (keepalive) only
  // after B's leases were written and the history compacted past them.
  etcd::EtcdOptions a_options;
  a_options.endpoints = {cluster_->endpoint(1), cluster_->endpoint(0)};
  a_options.call_timeout = testing::Scaled(absl::Seconds(2));
  a_options.keepalive_time = absl::Seconds(3);
  absl::StatusOr<std::unique_ptr<etcd::EtcdClient>> a_client =
      etcd::EtcdClient::Connect(a_options);
  ASSERT_TRUE(a_client.ok()) << a_client.status();
  absl::StatusOr<std::unique_ptr<EtcdLeaseBackend>> a =
      EtcdLeaseBackend::Create(options, &clock_, a_client->get());
  ASSERT_TRUE(a.ok()) << a.status();
  Replica b = MakeReplica({cluster_->endpoint(0), cluster_->endpoint(2)},
                          options, &clock_);
  ASSERT_NE(b.backend, nullptr);

  ASSERT_TRUE(cluster_->Stop(1).ok());
  absl::StatusOr<LeaseRecord> lease;
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        lease = b.backend->Acquire(Ask(3, "uid:7"));
        return lease.ok();
      },
      absl::Seconds(15)))
      << lease.status();
  absl::StatusOr<int64_t> revision = b.client->Put("/unrelated", "x");
  ASSERT_TRUE(revision.ok()) << revision.status();
  ASSERT_TRUE(b.client->Compact(*revision).ok());
  EXPECT_TRUE((*a)->List({}).empty());  // A's watch is still frozen
  ASSERT_TRUE(testing::PollUntil(
      [&] { return (*a)->List({}).size() == 1; }, absl::Seconds(30)));
  EXPECT_EQ((*a)->List({}).front().id, lease->id);
  EXPECT_EQ((*a)->ViewPort(lease->base).state, PortView::State::kLeased);
  ASSERT_TRUE(cluster_->Cont(1).ok());
  a->reset();
}

TEST_F(ReplicasTest, AStaleFencingTokenActsOnNothing) {
  EtcdLeaseBackendOptions options = TestOptions({43100, 43100});
  options.quarantine = absl::ZeroDuration();
  Replica a = MakeReplica(cluster_->endpoints(), options, &clock_);
  Replica b = MakeReplica(cluster_->endpoints(), options, &clock_);
  ASSERT_NE(a.backend, nullptr);
  ASSERT_NE(b.backend, nullptr);
  const Principal alice{"uid:1000", ""};
  absl::StatusOr<LeaseRecord> first = b.backend->Acquire(Ask(1, alice.id));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(b.backend->Release(first->id, alice).ok());
  absl::StatusOr<LeaseRecord> second;
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        second = b.backend->Acquire(Ask(1, alice.id));
        return second.ok();
      },
      absl::Seconds(5)));
  EXPECT_EQ(second->base, first->base);
  EXPECT_GT(second->fencing_token, first->fencing_token);

  absl::Status release = a.backend->Release(second->id, alice, first->fencing_token);
  EXPECT_EQ(release.code(), absl::StatusCode::kNotFound) << release;
  EXPECT_THAT(std::string(release.message()), HasSubstr("granted again"));
  EXPECT_EQ(a.backend->Renew(second->id, absl::ZeroDuration(), alice,
                             first->fencing_token).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(a.backend->Release(first->id, alice, first->fencing_token).code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<LeaseRecord> still = a.backend->Get(second->id, alice);
  ASSERT_TRUE(still.ok()) << still.status();
  EXPECT_EQ(still->expires_at, second->expires_at);
  EXPECT_TRUE(a.backend->Release(second->id, alice, second->fencing_token).ok());
}

TEST_F(ReplicasTest, AHeldLeaseSurvivesItsReplicaWhenTheHolderAttachesElsewhere) {
  EtcdLeaseBackendOptions options = TestOptions({43200, 43299});
  const Principal alice{"uid:1000", ""};
  Replica a = MakeReplica(cluster_->endpoints(), options, &clock_);
  Replica b = MakeReplica(cluster_->endpoints(), options, &clock_);
  ASSERT_NE(a.backend, nullptr);
  ASSERT_NE(b.backend, nullptr);
  absl::StatusOr<LeaseRecord> lease = a.backend->Acquire(Ask(2, alice.id));
  ASSERT_TRUE(lease.ok()) << lease.status();
  absl::StatusOr<LeaseRecord> held = a.backend->AttachHolder(lease->id, alice);
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_TRUE(held->held);
  // Longer than the grace: A keeps it alive.
  absl::SleepFor(absl::Seconds(3));
  ASSERT_TRUE(b.backend->Get(lease->id, alice).ok());

  a.backend.reset();  // the replica dies; nobody keeps the hold lease alive
  absl::SleepFor(absl::Milliseconds(500));
  absl::StatusOr<LeaseRecord> again = b.backend->AttachHolder(lease->id, alice);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->fencing_token, lease->fencing_token);
  absl::SleepFor(absl::Seconds(3));
  ASSERT_TRUE(b.backend->Get(lease->id, alice).ok());

  // The holder goes for good: the lease ends one grace later.
  b.backend->DetachHolder(lease->id);
  const absl::Time detached = absl::Now();
  ASSERT_TRUE(testing::PollUntil(
      [&] { return absl::IsNotFound(b.backend->Get(lease->id, alice).status()); },
      absl::Seconds(10)));
  EXPECT_GE(absl::Now() - detached, absl::Seconds(1));
}

TEST_F(ReplicasTest, AHeldLeaseWhoseHolderNeverComesBackEndsAfterTheGrace) {
  EtcdLeaseBackendOptions options = TestOptions({43300, 43399});
  const Principal alice{"uid:1000", ""};
  Replica a = MakeReplica(cluster_->endpoints(), options, &clock_);
  Replica b = MakeReplica(cluster_->endpoints(), options, &clock_);
  ASSERT_NE(a.backend, nullptr);
  ASSERT_NE(b.backend, nullptr);
  absl::StatusOr<LeaseRecord> lease = a.backend->Acquire(Ask(1, alice.id));
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_TRUE(a.backend->AttachHolder(lease->id, alice).ok());
  a.backend.reset();
  const absl::Time died = absl::Now();
  ASSERT_TRUE(testing::PollUntil(
      [&] { return absl::IsNotFound(b.backend->Get(lease->id, alice).status()); },
      absl::Seconds(10)));
  EXPECT_GE(absl::Now() - died, absl::Seconds(1));
  ASSERT_TRUE(testing::PollUntil([&] { return b.backend->List({}).empty(); },
                                 absl::Seconds(5)));
}

}  // namespace
}  // namespace portlease::replicated
