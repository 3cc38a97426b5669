// LeaseManager: identity decides, not knowledge of an id. Request ids are
// scoped to the caller; renew, release, get and hold need the id and the
// lease's caller (or root, or the admin token); events name who acted; the
// per-owner limit counts callers.
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/fake_clock.h"
#include "server/core/fake_prober.h"
#include "server/core/fake_store.h"
#include "server/core/lease_manager.h"
#include "server/core/principal.h"
#include "server/core/test_callers.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

class LeaseIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.pool = {{20000, 20019}};
    options_.cooldown = absl::ZeroDuration();
    options_.max_leases_per_owner = 0;
    options_.on_event = [this](const LeaseEvent& e) { events_.push_back(e); };
    Restart();
  }
  void Restart() {
    manager_.reset();
    auto m = LeaseManager::Create(options_, &clock_, &store_, &prober_);
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
  }
  static AcquireParams Request(const Principal& caller,
                               const std::string& request_id = "",
                               uint32_t count = 1) {
    AcquireParams p;
    p.count = count;
    p.request_id = request_id;
    p.caller = caller;
    return p;
  }
  LeaseRecord MustAcquire(const AcquireParams& p) {
    auto lease = manager_->Acquire(p);
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? *lease : LeaseRecord{};
  }
  // The events of `name`, in order.
  std::vector<LeaseEvent> Events(const char* name) const {
    std::vector<LeaseEvent> out;
    for (const LeaseEvent& e : events_) {
      if (std::string(LeaseEventName(e.type)) == name) out.push_back(e);
    }
    return out;
  }

  LeaseManagerOptions options_;
  FakeClock clock_;
  MapStore store_;
  FakeProber prober_;
  std::vector<LeaseEvent> events_;
  std::unique_ptr<LeaseManager> manager_;
};

TEST_F(LeaseIdentityTest, ReplayByAnotherCallerIsANewRequest) {
  LeaseRecord alice = MustAcquire(Request(kAlice, "r1"));
  EXPECT_EQ(alice.caller, "uid:1000");
  EXPECT_EQ(store_.leases.at(alice.id).caller, "uid:1000");
  // Alice's retry answers her lease.
  EXPECT_EQ(MustAcquire(Request(kAlice, "r1")).id, alice.id);
  // Bob's replay of her request_id is his own request: a new lease.
  LeaseRecord bob = MustAcquire(Request(kBob, "r1"));
  EXPECT_NE(bob.id, alice.id);
  EXPECT_NE(bob.base, alice.base);
  EXPECT_EQ(bob.caller, "uid:1001");
  // Another shape under Alice's request_id, from Bob: granted too.
  LeaseRecord bob_two = MustAcquire(Request(kBob, "r1-other", 2));
  EXPECT_NE(bob_two.id, alice.id);
  EXPECT_EQ(MustAcquire(Request(kBob, "r1")).id, bob.id);
  EXPECT_EQ(manager_->Stats().live_leases, 3u);
  // Root's replay is a new request as well: privilege does not merge keys.
  EXPECT_NE(MustAcquire(Request(kRoot, "r1")).id, alice.id);
}

TEST_F(LeaseIdentityTest, AnotherCallerIsRefusedAndNothingChanges) {
  LeaseRecord lease = MustAcquire(Request(kAlice));
  const LeaseRecord stored = store_.leases.at(lease.id);
  const size_t events = events_.size();
  clock_.Advance(absl::Seconds(5));

  absl::StatusOr<LeaseRecord> renewed =
      manager_->Renew(lease.id, absl::Minutes(10), kBob);
  EXPECT_EQ(renewed.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(renewed.status().message(),
            "lease " + lease.IdPrefix() +
                "... belongs to uid:1000; uid:1001 may not renew it (only "
                "its caller, root or the admin token may)");
  absl::Status released = manager_->Release(lease.id, kBob);
  EXPECT_EQ(released.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(released.message(), HasSubstr("may not release it"));
  EXPECT_EQ(manager_->Get(lease.id, kBob).status().code(),
            absl::StatusCode::kPermissionDenied);
  absl::StatusOr<LeaseRecord> held = manager_->AttachHolder(lease.id, kBob);
  EXPECT_EQ(held.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(held.status().message(), HasSubstr("may not hold it"));

  // Nothing changed: the stored row, the expiry, the events.
  EXPECT_EQ(store_.leases.at(lease.id), stored);
  EXPECT_EQ(events_.size(), events);
  absl::StatusOr<LeaseRecord> got = manager_->Get(lease.id, kAlice);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->expires_at, lease.expires_at);
  // The refused AttachHolder attached nothing: the lease still expires.
  clock_.Advance(options_.default_ttl);
  manager_->Tick();
  EXPECT_TRUE(absl::IsNotFound(manager_->Get(lease.id, kAlice).status()));

  // A wrong id stays NOT_FOUND, whoever asks.
  EXPECT_TRUE(absl::IsNotFound(
      manager_->Renew("0123456789abcdef0123456789abcdef", absl::ZeroDuration(),
                      kBob)
          .status()));
  EXPECT_TRUE(absl::IsNotFound(manager_->Release("nope", kRoot)));
}

TEST_F(LeaseIdentityTest, TheCallerActsOnItsOwnLease) {
  LeaseRecord lease = MustAcquire(Request(kAlice));
  ASSERT_TRUE(manager_->AttachHolder(lease.id, kAlice).ok());
  manager_->DetachHolder(lease.id);
  EXPECT_TRUE(manager_->Renew(lease.id, absl::Minutes(5), kAlice).ok());
  EXPECT_TRUE(manager_->Get(lease.id, kAlice).ok());
  EXPECT_TRUE(manager_->Release(lease.id, kAlice).ok());
}

TEST_F(LeaseIdentityTest, RootOverridesAndTheOverrideIsRecorded) {
  LeaseRecord lease = MustAcquire(Request(kAlice));
  absl::StatusOr<LeaseRecord> renewed =
      manager_->Renew(lease.id, absl::Minutes(5), kRoot);
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  ASSERT_EQ(Events("renew").size(), 1u);
  EXPECT_EQ(Events("renew")[0].by, "uid:0");
  EXPECT_EQ(Events("renew")[0].privilege, "root");
  const Principal admin{"addr:loopback", "admin-token"};
  ASSERT_TRUE(manager_->Release(lease.id, admin).ok());
  ASSERT_EQ(Events("release").size(), 1u);
  EXPECT_EQ(Events("release")[0].by, "addr:loopback");
  EXPECT_EQ(Events("release")[0].privilege, "admin-token");
  // Root on its own lease: no override to record.
  LeaseRecord own = MustAcquire(Request(kRoot));
  ASSERT_TRUE(manager_->Release(own.id, kRoot).ok());
  EXPECT_EQ(Events("release")[1].by, "uid:0");
  EXPECT_EQ(Events("release")[1].privilege, "");
}

TEST_F(LeaseIdentityTest, OwnerLimitKeysOnTheCallerNotOnMetadata) {
  options_.max_leases_per_owner = 2;
  Restart();
  // Another CI_JOB_ID per request does not split the limit...
  for (const char* job : {"1", "2"}) {
    AcquireParams p = Request(kAlice);
    p.owner = {{"CI_JOB_ID", job}};
    MustAcquire(p);
  }
  AcquireParams third = Request(kAlice);
  third.owner = {{"CI_JOB_ID", "3"}};
  absl::Status refused = manager_->Acquire(third).status();
  EXPECT_TRUE(absl::IsResourceExhausted(refused));
  EXPECT_THAT(refused.message(), HasSubstr("uid:1000 already holds 2"));
  // ...and the same CI_JOB_ID under another caller does not merge it.
  AcquireParams bob = Request(kBob);
  bob.owner = {{"CI_JOB_ID", "1"}};
  MustAcquire(bob);
  MustAcquire(bob);
  // The same through AcquireOrWait: answered at once.
  absl::Status waited = absl::UnknownError("not called");
  manager_->AcquireOrWait(third, clock_.Monotonic() + absl::Seconds(10),
                          [&waited](absl::StatusOr<LeaseRecord> r) {
                            waited = r.status();
                          });
  EXPECT_TRUE(absl::IsResourceExhausted(waited)) << waited;
}

TEST_F(LeaseIdentityTest, RequestIdsStayScopedAcrossARestart) {
  LeaseRecord alice = MustAcquire(Request(kAlice, "r1"));
  Restart();
  EXPECT_EQ(MustAcquire(Request(kAlice, "r1")).id, alice.id);
  LeaseRecord bob = MustAcquire(Request(kBob, "r1"));
  EXPECT_NE(bob.id, alice.id);
  EXPECT_EQ(manager_->Stats().live_leases, 2u);
  // The caller check survives the restart too.
  EXPECT_EQ(manager_->Release(alice.id, kBob).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(LeaseIdentityTest, StoredLeasesWithoutACallerAreBackfilledFromPeerKeys) {
  LeaseRecord legacy;
  legacy.id = "aaaaaaaa000000000000000000000001";
  legacy.base = 20000;
  legacy.count = 1;
  legacy.owner = {{"peer_uid", "1000"}, {"peer_user", "alice"}};
  legacy.request_id = "r1";
  legacy.ttl = absl::Minutes(1);
  legacy.created_at = clock_.Now();
  legacy.expires_at = clock_.Now() + legacy.ttl;
  LeaseRecord orphan = legacy;
  orphan.id = "bbbbbbbb000000000000000000000002";
  orphan.base = 20001;
  orphan.owner = {{"user", "someone"}};  // no server-written peer_* key
  orphan.request_id = "r2";
  store_.leases[legacy.id] = legacy;
  store_.leases[orphan.id] = orphan;
  Restart();

  EXPECT_EQ(manager_->Renew(legacy.id, absl::ZeroDuration(), kBob)
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  absl::StatusOr<LeaseRecord> renewed =
      manager_->Renew(legacy.id, absl::ZeroDuration(), kAlice);
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_EQ(store_.leases.at(legacy.id).caller, "uid:1000");  // persisted
  EXPECT_EQ(MustAcquire(Request(kAlice, "r1")).id, legacy.id);

  // No peer key: nobody's but a privileged caller's.
  absl::Status refused = manager_->Release(orphan.id, kAlice);
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(refused.message(), HasSubstr("an unrecorded caller"));
  EXPECT_NE(MustAcquire(Request(kAlice, "r2")).id, orphan.id);
  EXPECT_TRUE(manager_->Release(orphan.id, kRoot).ok());
}

TEST_F(LeaseIdentityTest, EventsNameWhoActed) {
  LeaseRecord a = MustAcquire(Request(kAlice));
  LeaseRecord b = MustAcquire(Request(kAlice));
  LeaseRecord c = MustAcquire(Request(kBob));
  ASSERT_TRUE(manager_->Renew(a.id, absl::ZeroDuration(), kAlice).ok());
  ASSERT_TRUE(manager_->Release(a.id, kAlice).ok());
  const Principal admin{"uid:0", "admin-token"};
  ASSERT_TRUE(manager_->ForceRelease(b.IdPrefix(), 0, admin).ok());
  ASSERT_TRUE(manager_->AttachHolder(c.id, kBob).ok());
  manager_->DetachHolder(c.id);
  ASSERT_TRUE(manager_->DrainPort(20019, admin).ok());

  ASSERT_EQ(Events("grant").size(), 3u);
  EXPECT_EQ(Events("grant")[0].by, "uid:1000");
  EXPECT_EQ(Events("grant")[2].by, "uid:1001");
  EXPECT_EQ(Events("renew")[0].by, "uid:1000");
  EXPECT_EQ(Events("release")[0].by, "uid:1000");
  EXPECT_EQ(Events("force-release")[0].by, "uid:0");
  EXPECT_EQ(Events("force-release")[0].privilege, "admin-token");
  EXPECT_EQ(Events("port-drain")[0].by, "uid:0");

  // What the server does on its own is the server's.
  clock_.Advance(options_.hold_grace);
  manager_->Tick();
  ASSERT_EQ(Events("reclaim").size(), 1u);
  EXPECT_EQ(Events("reclaim")[0].by, "server");
  LeaseRecord d = MustAcquire(Request(kAlice));
  clock_.Advance(options_.default_ttl);
  manager_->Tick();
  ASSERT_EQ(Events("expire").size(), 1u);
  EXPECT_EQ(Events("expire")[0].by, "server");
  EXPECT_EQ(Events("expire")[0].lease->id, d.id);
}

TEST(PrincipalTest, SpellsCallers) {
  EXPECT_EQ(UidPrincipal(1000), "uid:1000");
  EXPECT_EQ(AddressPrincipal("10.0.0.7"), "addr:10.0.0.7");
  EXPECT_EQ(AddressPrincipal("127.0.0.1"), "addr:loopback");
  EXPECT_EQ(AddressPrincipal("127.1.2.3"), "addr:loopback");
  EXPECT_EQ(AddressPrincipal("%5B::1%5D"), "addr:loopback");
  EXPECT_EQ(AddressPrincipal("[::1]"), "addr:loopback");
  EXPECT_EQ(AddressPrincipal("%5B::ffff:10.1.2.3%5D"), "addr:10.1.2.3");
  EXPECT_EQ(AddressPrincipal("%5B2001:DB8::1%5D"), "addr:2001:db8::1");
  EXPECT_EQ(CertificatePrincipal("ci-runner-7"), "x509:ci-runner-7");
  EXPECT_EQ(LegacyPrincipal({{"peer_uid", "1000"}, {"CI_JOB_ID", "9"}}),
            "uid:1000");
  EXPECT_EQ(LegacyPrincipal({{"peer_addr", "127.0.0.1"}}), "addr:loopback");
  EXPECT_EQ(LegacyPrincipal({{"CI_JOB_ID", "9"}, {"uid", "0"}}), "");
}

}  // namespace
}  // namespace portlease
