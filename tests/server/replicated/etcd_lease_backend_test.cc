// EtcdLeaseBackend alone against one real etcd member: the lease rules.
#include "server/replicated/etcd_lease_backend.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/fake_prober.h"
#include "server/core/port_prober.h"
#include "server/replicated/keys.h"
#include "testing/poll_until.h"
#include "tests/server/replicated/replicated_test_util.h"

namespace portlease::replicated {
namespace {

using ::testing::HasSubstr;

class EtcdLeaseBackendTest : public ReplicatedTest<1> {
 protected:
  void SetUp() override {
    ReplicatedTest<1>::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    replica_ = MakeReplica(cluster_->endpoints(), TestOptions({41000, 41099}),
                           &clock_);
    ASSERT_NE(replica_.backend, nullptr);
  }

  EtcdLeaseBackend& backend() { return *replica_.backend; }

  Replica replica_;
  const Principal alice_{"uid:1000", ""};
  const Principal bob_{"uid:1001", ""};
  const Principal root_{"uid:0", "root"};
};

TEST_F(EtcdLeaseBackendTest, AcquireRenewGetListRelease) {
  AcquireParams params = Ask(0, alice_.id);
  params.names = {"redis", "web"};
  params.owner = {{"job", "7"}};
  absl::StatusOr<LeaseRecord> lease = backend().Acquire(params);
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(lease->count, 2u);
  EXPECT_GE(lease->base, 41000);
  EXPECT_LE(lease->last(), 41099);
  EXPECT_GT(lease->fencing_token, 0u);
  EXPECT_EQ(lease->caller, alice_.id);

  absl::StatusOr<LeaseRecord> got = backend().Get(lease->id, alice_);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, *lease);
  ASSERT_TRUE(testing::PollUntil(
      [&] { return backend().List({{"job", "7"}}).size() == 1; },
      absl::Seconds(5)));
  EXPECT_TRUE(backend().List({{"job", "8"}}).empty());
  EXPECT_EQ(backend().ViewPort(lease->base).state, PortView::State::kLeased);

  absl::StatusOr<LeaseRecord> renewed =
      backend().Renew(lease->id, absl::Seconds(90), alice_);
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_GT(renewed->expires_at, lease->expires_at);
  EXPECT_EQ(renewed->fencing_token, lease->fencing_token);
  EXPECT_EQ(renewed->ttl, absl::Seconds(90));
  absl::StatusOr<LeaseRecord> again = backend().Renew(lease->id, absl::ZeroDuration(), alice_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->ttl, absl::Seconds(90));
  EXPECT_EQ(backend().Renew(lease->id, absl::Hours(1000), alice_).status().code(),
            absl::StatusCode::kInvalidArgument);

  ASSERT_TRUE(backend().Release(lease->id, alice_).ok());
  EXPECT_EQ(backend().Get(lease->id, alice_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(backend().Release(lease->id, alice_).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(backend().Renew(lease->id, absl::ZeroDuration(), alice_).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(testing::PollUntil([&] { return backend().List({}).empty(); },
                                 absl::Seconds(5)));
}

TEST_F(EtcdLeaseBackendTest, RequestIdMakesAcquireIdempotentPerCaller) {
  AcquireParams params = Ask(3, alice_.id);
  params.request_id = "job-1/step";
  absl::StatusOr<LeaseRecord> first = backend().Acquire(params);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<LeaseRecord> retry = backend().Acquire(params);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->id, first->id);
  EXPECT_EQ(retry->fencing_token, first->fencing_token);

  AcquireParams other_shape = params;
  other_shape.count = 4;
  EXPECT_EQ(backend().Acquire(other_shape).status().code(),
            absl::StatusCode::kInvalidArgument);

  AcquireParams bobs = params;
  bobs.caller = bob_;
  absl::StatusOr<LeaseRecord> bob_lease = backend().Acquire(bobs);
  ASSERT_TRUE(bob_lease.ok()) << bob_lease.status();
  EXPECT_NE(bob_lease->id, first->id);

  // Released: the request_id is free for a new grant.
  ASSERT_TRUE(backend().Release(first->id, alice_).ok());
  absl::StatusOr<LeaseRecord> fresh = backend().Acquire(params);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_NE(fresh->id, first->id);
}

TEST_F(EtcdLeaseBackendTest, AnotherCallerIsDeniedAndRootIsNot) {
  absl::StatusOr<LeaseRecord> lease = backend().Acquire(Ask(1, alice_.id));
  ASSERT_TRUE(lease.ok()) << lease.status();
  absl::Status denied = backend().Release(lease->id, bob_);
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied) << denied;
  EXPECT_THAT(std::string(denied.message()), HasSubstr(alice_.id));
  EXPECT_EQ(backend().Renew(lease->id, absl::ZeroDuration(), bob_).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(backend().Get(lease->id, bob_).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(backend().AttachHolder(lease->id, bob_).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(backend().Get(lease->id, alice_).ok());
  EXPECT_EQ(backend().Get("0123456789abcdef0123456789abcdef", alice_).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(backend().Release(lease->id, root_).ok());
}

TEST_F(EtcdLeaseBackendTest, BlocksOver63PortsAreInvalidArgument) {
  absl::StatusOr<LeaseRecord> big = backend().Acquire(Ask(64, alice_.id));
  EXPECT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(big.status().message()), HasSubstr("at most 63"));
  absl::StatusOr<LeaseRecord> most = backend().Acquire(Ask(63, alice_.id));
  ASSERT_TRUE(most.ok()) << most.status();
  EXPECT_EQ(most->count, 63u);
  absl::StatusOr<LeaseRecord> rest = backend().Acquire(Ask(38, alice_.id));
  EXPECT_EQ(rest.status().code(), absl::StatusCode::kResourceExhausted) << rest.status();
}

TEST_F(EtcdLeaseBackendTest, ExpiryEndsALease) {
  absl::StatusOr<LeaseRecord> lease =
      backend().Acquire(Ask(2, alice_.id, absl::Seconds(1)));
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        backend().Tick();
        return absl::IsNotFound(backend().Get(lease->id, alice_).status()) &&
               backend().List({}).empty();
      },
      absl::Seconds(10)));
  // An expired lease reads as gone at once; its keys go with the Txn that
  // ends it, which the housekeeping thread may be running just now.
  EXPECT_TRUE(testing::PollUntil(
      [&] {
        backend().Tick();
        absl::StatusOr<etcd::RangeResult> ports = replica_.client->Range(
            "/test/ports/", etcd::PrefixEnd("/test/ports/"));
        return ports.ok() && ports->kvs.empty();
      },
      absl::Seconds(5)));
}

TEST_F(EtcdLeaseBackendTest, QuarantineKeepsAReleasedPortOutForTheCooldown) {
  EtcdLeaseBackendOptions options = TestOptions({41500, 41500});
  options.prefix = "/one/";
  options.quarantine = absl::Seconds(2);
  Replica one = MakeReplica(cluster_->endpoints(), options, &clock_);
  ASSERT_NE(one.backend, nullptr);
  absl::StatusOr<LeaseRecord> lease = one.backend->Acquire(Ask(1, alice_.id));
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_TRUE(one.backend->Release(lease->id, alice_).ok());
  const absl::Time released = absl::Now();
  absl::StatusOr<LeaseRecord> early = one.backend->Acquire(Ask(1, alice_.id));
  EXPECT_EQ(early.status().code(), absl::StatusCode::kResourceExhausted)
      << early.status();
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        return one.backend->ViewPort(41500).state == PortView::State::kQuarantined;
      },
      absl::Seconds(5)));
  absl::StatusOr<LeaseRecord> later;
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        later = one.backend->Acquire(Ask(1, alice_.id));
        return later.ok();
      },
      absl::Seconds(15)));
  EXPECT_GE(absl::Now() - released, absl::Seconds(1));
  EXPECT_EQ(later->base, 41500);
}

TEST_F(EtcdLeaseBackendTest, AWaiterIsServedWhenPortsAreReleased) {
  EtcdLeaseBackendOptions options = TestOptions({41600, 41600});
  options.prefix = "/wait/";
  options.quarantine = absl::ZeroDuration();
  Replica one = MakeReplica(cluster_->endpoints(), options, &clock_);
  ASSERT_NE(one.backend, nullptr);
  absl::StatusOr<LeaseRecord> held = one.backend->Acquire(Ask(1, alice_.id));
  ASSERT_TRUE(held.ok()) << held.status();
  absl::Mutex mu;
  std::optional<absl::StatusOr<LeaseRecord>> answer;
  const uint64_t ticket = one.backend->AcquireOrWait(
      Ask(1, bob_.id), clock_.Monotonic() + absl::Seconds(30),
      [&](absl::StatusOr<LeaseRecord> result) {
        absl::MutexLock lock(&mu);
        answer = std::move(result);
      });
  EXPECT_NE(ticket, 0u);
  EXPECT_EQ(one.backend->Stats().waiters, 1u);
  ASSERT_TRUE(one.backend->Release(held->id, alice_).ok());
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        absl::MutexLock lock(&mu);
        return answer.has_value();
      },
      absl::Seconds(10)));
  absl::MutexLock lock(&mu);
  ASSERT_TRUE(answer->ok()) << answer->status();
  EXPECT_EQ((*answer)->caller, bob_.id);
}

int64_t EtcdLeaseOf(etcd::EtcdClient& client, const std::string& key) {
  absl::StatusOr<etcd::RangeResult> read = client.Range(key);
  EXPECT_TRUE(read.ok()) << read.status();
  return read.ok() && !read->kvs.empty() ? read->kvs.front().lease : 0;
}

TEST_F(EtcdLeaseBackendTest, RenewWithAnotherTtlMovesEveryKeyToANewEtcdLease) {
  AcquireParams params = Ask(2, alice_.id);
  params.request_id = "r";
  absl::StatusOr<LeaseRecord> lease = backend().Acquire(params);
  ASSERT_TRUE(lease.ok()) << lease.status();
  etcd::EtcdClient& client = *replica_.client;
  const int64_t before = EtcdLeaseOf(client, "/test/ports/" + std::to_string(lease->base));
  ASSERT_NE(before, 0);
  EXPECT_EQ(EtcdLeaseOf(client, "/test/leases/" + lease->id), before);

  ASSERT_TRUE(backend().Renew(lease->id, absl::Seconds(30), alice_).ok());
  EXPECT_EQ(EtcdLeaseOf(client, "/test/ports/" + std::to_string(lease->base)), before);

  absl::StatusOr<LeaseRecord> longer = backend().Renew(lease->id, absl::Seconds(300), alice_);
  ASSERT_TRUE(longer.ok()) << longer.status();
  const int64_t after = EtcdLeaseOf(client, "/test/ports/" + std::to_string(lease->base));
  EXPECT_NE(after, before);
  EXPECT_EQ(EtcdLeaseOf(client, "/test/ports/" + std::to_string(lease->last())), after);
  EXPECT_EQ(EtcdLeaseOf(client, "/test/leases/" + lease->id), after);
  EXPECT_EQ(EtcdLeaseOf(client, "/test/requests/uid:1000/r"), after);
  absl::StatusOr<etcd::LeaseTimeToLiveResult> ttl = client.LeaseTimeToLive(after);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_EQ(ttl->granted_ttl_seconds, 300);
  EXPECT_EQ(client.LeaseTimeToLive(before).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(longer->fencing_token, lease->fencing_token);
}

TEST_F(EtcdLeaseBackendTest, ReattachFindsALeaseEtcdStillHas) {
  absl::StatusOr<LeaseRecord> lease = backend().Acquire(Ask(1, alice_.id));
  ASSERT_TRUE(lease.ok()) << lease.status();
  absl::StatusOr<LeaseRecord> found = backend().Reattach(*lease, alice_);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->id, lease->id);
  EXPECT_EQ(backend().Reattach(*lease, bob_).status().code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(backend().Release(lease->id, alice_).ok());
  EXPECT_EQ(backend().Reattach(*lease, alice_).status().code(), absl::StatusCode::kNotFound);
  LeaseRecord bad = *lease;
  bad.id = "short";
  EXPECT_EQ(backend().Reattach(bad, alice_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(EtcdLeaseBackendTest, AnExpiredRequestIsGrantedAfresh) {
  AcquireParams params = Ask(1, alice_.id, absl::Seconds(1));
  params.request_id = "short-lived";
  absl::StatusOr<LeaseRecord> first = backend().Acquire(params);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::SleepFor(absl::Milliseconds(1100));
  absl::StatusOr<LeaseRecord> second = backend().Acquire(params);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(second->id, first->id);
}

TEST_F(EtcdLeaseBackendTest, AProbeSkipsBusyPortsAndItsFaultGrantsNothing) {
  FakeProber prober;
  EtcdLeaseBackendOptions options = TestOptions({41700, 41703});
  options.prefix = "/probe/";
  options.probe = &prober;
  Replica one = MakeReplica(cluster_->endpoints(), options, &clock_);
  ASSERT_NE(one.backend, nullptr);
  for (Port p : {41700, 41701, 41702}) prober.SetBusy(p, true);
  absl::StatusOr<LeaseRecord> lease = one.backend->Acquire(Ask(1, alice_.id));
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(lease->base, 41703);
  absl::StatusOr<LeaseRecord> none = one.backend->Acquire(Ask(1, alice_.id));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kResourceExhausted) << none.status();
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("3 bound by other processes"));

  ASSERT_TRUE(one.backend->Release(lease->id, alice_).ok());
  prober.SetFault(absl::UnavailableError("server out of file descriptors"));
  absl::StatusOr<LeaseRecord> fault;
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        fault = one.backend->Acquire(Ask(1, alice_.id));
        return !absl::IsResourceExhausted(fault.status());  // cool-down over
      },
      absl::Seconds(10)));
  EXPECT_EQ(fault.status().code(), absl::StatusCode::kUnavailable) << fault.status();
}

// Plays another replica and a slow probe: on the first candidate block it
// takes the block in etcd (that candidate's Txn then loses), on the next
// it stalls for `stall`. Called by Acquire's thread only.
class RacingProber : public PortProber {
 public:
  RacingProber(etcd::EtcdClient* client, std::string prefix,
               absl::Duration stall)
      : client_(client), keys_(std::move(prefix)), stall_(stall) {}
  absl::StatusOr<std::vector<Port>> Busy(Port first, uint32_t, bool) override {
    if (calls_++ == 0) {
      absl::StatusOr<int64_t> put =
          client_->Put(keys_.PortKey(first), std::string(32, 'f'));
      if (!put.ok()) return put.status();
    } else {
      absl::SleepFor(stall_);
    }
    return std::vector<Port>();
  }
  int calls() const { return calls_; }

 private:
  etcd::EtcdClient* const client_;
  const KeySpace keys_;
  const absl::Duration stall_;
  int calls_ = 0;
};

TEST_F(EtcdLeaseBackendTest, ALeaseGrantedAfterALostCandidateOutlivesNotItsKeys) {
  EtcdLeaseBackendOptions options = TestOptions({41800, 41801});
  options.prefix = "/race/";
  RacingProber prober(replica_.client.get(), options.prefix,
                      absl::Milliseconds(1500));
  options.probe = &prober;
  Replica racer = MakeReplica(cluster_->endpoints(), options, &clock_);
  ASSERT_NE(racer.backend, nullptr);
  // The etcd lease for the keys is granted for the first candidate, 1.5 s
  // before the second one wins its Txn.
  absl::StatusOr<LeaseRecord> lease =
      racer.backend->Acquire(Ask(1, alice_.id, absl::Seconds(2)));
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_EQ(prober.calls(), 2);
  // Until the expiry it was granted with, the lease and its port key are
  // in etcd: no other replica could take the port meanwhile.
  while (clock_.Now() < lease->expires_at - absl::Milliseconds(300)) {
    absl::StatusOr<LeaseRecord> got = racer.backend->Get(lease->id, alice_);
    ASSERT_TRUE(got.ok()) << got.status() << ", "
                          << (lease->expires_at - clock_.Now())
                          << " before the expiry it was granted with";
    absl::SleepFor(absl::Milliseconds(100));
  }
}

TEST_F(EtcdLeaseBackendTest, AWaiterGivesUpAtItsDeadline) {
  EtcdLeaseBackendOptions options = TestOptions({41800, 41800});
  options.prefix = "/deadline/";
  Replica one = MakeReplica(cluster_->endpoints(), options, &clock_);
  ASSERT_NE(one.backend, nullptr);
  ASSERT_TRUE(one.backend->Acquire(Ask(1, alice_.id)).ok());
  absl::Mutex mu;
  std::optional<absl::Status> answer;
  one.backend->AcquireOrWait(Ask(1, bob_.id), clock_.Monotonic() + absl::Milliseconds(300),
                             [&](absl::StatusOr<LeaseRecord> result) {
                               absl::MutexLock lock(&mu);
                               answer = result.status();
                             });
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        one.backend->Tick();
        absl::MutexLock lock(&mu);
        return answer.has_value();
      },
      absl::Seconds(5)));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(answer->code(), absl::StatusCode::kDeadlineExceeded) << *answer;
}

TEST_F(EtcdLeaseBackendTest, ForceReleaseEndsTheLeaseEtcdHasByPrefixOrPort) {
  absl::StatusOr<LeaseRecord> first = backend().Acquire(Ask(2, alice_.id));
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<LeaseRecord> second = backend().Acquire(Ask(1, bob_.id));
  ASSERT_TRUE(second.ok()) << second.status();

  EXPECT_EQ(backend().ForceRelease(first->id.substr(0, 4), 0, root_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backend().ForceRelease(first->id.substr(0, 8), 41000, root_).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<LeaseRecord> ended =
      backend().ForceRelease(first->id.substr(0, 8), 0, root_);
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->id, first->id);
  EXPECT_EQ(ended->fencing_token, first->fencing_token);
  EXPECT_EQ(backend().Get(first->id, alice_).status().code(), absl::StatusCode::kNotFound);
  // Its holder learns it is gone; the other lease stays.
  EXPECT_EQ(backend().Release(first->id, alice_, first->fencing_token).code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(backend().Get(second->id, bob_).ok());

  ended = backend().ForceRelease("", second->base, root_);
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->id, second->id);
  EXPECT_EQ(backend().ForceRelease("", second->base, root_).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(backend().ForceRelease("", 41099, root_).status().message(),
              HasSubstr("no live lease holds port 41099"));
  EXPECT_EQ(backend().ForceRelease("ffffffff", 0, root_).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(EtcdLeaseBackendTest, AdministrationIsUnimplemented) {
  EXPECT_EQ(backend().DrainPort(41000, root_).code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(backend().Events(EventQuery()).status().code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_FALSE(backend().Recovering());
  EXPECT_EQ(backend().Stats().pool_size, 100u);
  absl::StatusOr<LeaseRecord> lease = backend().Acquire(Ask(3, alice_.id));
  ASSERT_TRUE(lease.ok()) << lease.status();
  PoolStats stats = backend().Stats();  // the cache knows its own grants
  EXPECT_EQ(stats.live_leases, 1u);
  EXPECT_EQ(stats.leased, 3u);
  EXPECT_EQ(stats.free, 97u);
}

}  // namespace
}  // namespace portlease::replicated
