// Real portleased replicas (--store=etcd) on a real 3-member etcd cluster,
// driven by the real portlease and lease-run binaries through a
// PORTLEASE_ADDR list: a lease granted through one replica is seen through
// another; lease-run keeps its lease when its replica is SIGKILLed (its
// Hold moves to the other replica within the hold grace) and its ports are
// granted to nobody else meanwhile; releasing at the end leaves nothing;
// and the README's replica block runs as written. The replicas do not
// probe (--probe=none, or --pool-host naming another host): the pool's
// ports are only numbers in etcd, nothing binds them.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "portlease/client.h"
#include "tests/client/test_support.h"
#include "tests/support/etcd_cluster.h"

namespace portlease::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPool[] = "20000-20007";  // 8 ports
constexpr absl::Duration kHoldGrace = absl::Seconds(3);

class DaemonReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!EtcdCluster::Installed()) {
      GTEST_SKIP() << EtcdCluster::NotInstalledMessage();
    }
    absl::StatusOr<std::unique_ptr<EtcdCluster>> cluster =
        EtcdCluster::Start(3);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
  }

  // Replica `socket` of the pool on the test's cluster.
  absl::StatusOr<std::unique_ptr<TestServer>> StartReplica(
      const std::string& socket, std::vector<std::string> more = {}) {
    std::vector<std::string> args = {
        "--store=etcd",
        "--etcd-endpoints=" + absl::StrJoin(cluster_->endpoints(), ","),
        "--etcd-prefix=/daemon-test/",
        "--pool",
        kPool,
        "--hold_grace=" + absl::FormatDuration(kHoldGrace)};
    args.insert(args.end(), more.begin(), more.end());
    return TestServer::Start(dir_.path(), args, socket);
  }

  std::string Socket(const std::string& name) {
    return "unix:" + dir_.File(name);
  }

  // `portlease ARGS...` with PORTLEASE_ADDR=`addresses`; exit 0 expected.
  std::string Portlease(const std::string& addresses,
                        std::vector<std::string> args) {
    args.insert(args.begin(), PORTLEASE_BIN);
    RunResult r = RunBinary(args, {{"PORTLEASE_ADDR", addresses}}, dir_.path());
    EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(args, " ") << ": " << r.err;
    return r.out;
  }

  TempDir dir_;
  std::unique_ptr<EtcdCluster> cluster_;
};

std::string ThisHostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

// The lease_id and fencing_token of `portlease acquire --format=json`.
struct Granted {
  std::string id;
  uint64_t fencing_token = 0;
};
Granted ParseGrant(const std::string& json) {
  Granted g;
  std::smatch m;
  if (std::regex_search(json, m,
                        std::regex(R"re("lease_id": "([0-9a-f]{32})")re"))) {
    g.id = m[1];
  }
  if (std::regex_search(json, m, std::regex(R"re("fencing_token": (\d+))re"))) {
    EXPECT_TRUE(absl::SimpleAtoi(m[1].str(), &g.fencing_token));
  }
  return g;
}

TEST_F(DaemonReplicasTest, ALeaseTakenThroughOneReplicaIsSeenThroughAnother) {
  auto r1 = StartReplica("r1.sock");
  ASSERT_TRUE(r1.ok()) << r1.status();
  auto r2 = StartReplica("r2.sock");
  ASSERT_TRUE(r2.ok()) << r2.status();
  const Granted lease = ParseGrant(
      Portlease(Socket("r1.sock"),
                {"acquire", "--count", "2", "--ttl", "60s", "--format=json"}));
  ASSERT_EQ(lease.id.size(), 32u);
  EXPECT_GT(lease.fencing_token, 0u);  // the etcd revision of the grant
  EXPECT_THAT(Portlease(Socket("r2.sock"), {"list"}),
              HasSubstr(lease.id.substr(0, 8)));
  // Renewed through the list (r1 first), released through r2.
  const std::string both = Socket("r1.sock") + "," + Socket("r2.sock");
  Portlease(both, {"renew", lease.id, "--ttl", "2m"});
  Portlease(Socket("r2.sock"), {"release", lease.id});
  EXPECT_THAT(Portlease(both, {"list"}), Not(HasSubstr(lease.id.substr(0, 8))));
  // A stale fencing token acts on nothing (the client library sends it).
  Client client(Socket("r2.sock"));
  AcquireSpec spec;
  spec.count = 1;
  absl::StatusOr<v1::Lease> fresh = client.Acquire(spec);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(client
                .Renew(fresh->lease_id(), absl::ZeroDuration(),
                       absl::ZeroDuration(), fresh->fencing_token() + 1)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(client
                .Release(fresh->lease_id(), absl::ZeroDuration(),
                         fresh->fencing_token() + 1)
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(client
                  .Release(fresh->lease_id(), absl::ZeroDuration(),
                           fresh->fencing_token())
                  .ok());
}

TEST_F(DaemonReplicasTest, AReplicaOffThePoolHostSaysItDoesNotProbe) {
  auto r3 = StartReplica(
      "r3.sock", {"--probe=system", "--pool-host=not-" + ThisHostName()});
  ASSERT_TRUE(r3.ok()) << r3.status();
  const std::string log = ReadFileOrEmpty(dir_.File("r3.sock.log"));
  EXPECT_THAT(log, HasSubstr("not probing ports before granting them: "
                             "--pool-host=not-" +
                             ThisHostName() + " is not this host"));
  EXPECT_THAT(log, HasSubstr(" probe=off (pool host elsewhere) "));
  // --db (the test server's :memory:) means nothing here: a warning.
  EXPECT_THAT(log, HasSubstr("--db is ignored with --store=etcd"));
  Client client(Socket("r3.sock"));
  AcquireSpec spec;
  spec.count = 1;
  absl::StatusOr<v1::Lease> lease = client.Acquire(spec);
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_TRUE(client
                  .Release(lease->lease_id(), absl::ZeroDuration(),
                           lease->fencing_token())
                  .ok());
}

// r1 and r2, and `lease-run --count 2 -- sleep 120` through them (r1
// first): its lease id and ports.
class LeaseRunReplicasTest : public DaemonReplicasTest {
 protected:
  void SetUp() override {
    DaemonReplicasTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto r1 = StartReplica("r1.sock");
    ASSERT_TRUE(r1.ok()) << r1.status();
    r1_ = *std::move(r1);
    auto r2 = StartReplica("r2.sock");
    ASSERT_TRUE(r2.ok()) << r2.status();
    r2_ = *std::move(r2);
    const std::string leased = dir_.File("leased");
    std::vector<std::string> argv = {LEASE_RUN_BIN, "--count", "2"};
    const std::vector<std::string> more = MoreLeaseRunFlags();
    argv.insert(argv.end(), more.begin(), more.end());
    argv.insert(argv.end(), {"--", "/bin/sh", "-c",
                             "echo $PORTLEASE_LEASE_ID $PORTLEASE_PORTS > " +
                                 leased + "; exec sleep 120"});
    auto run = Process::Start(
        argv,
        {{"PORTLEASE_ADDR", Socket("r1.sock") + "," + Socket("r2.sock")}},
        dir_.path());
    ASSERT_TRUE(run.ok()) << run.status();
    run_ = *std::move(run);
    ASSERT_TRUE(PollUntil(
        [&] { return ReadFileOrEmpty(leased).find('\n') != std::string::npos; },
        absl::Seconds(15)))
        << run_->err();
    const std::vector<std::string> words = absl::StrSplit(
        ReadFileOrEmpty(leased), absl::ByAnyChar(" \n"), absl::SkipEmpty());
    ASSERT_EQ(words.size(), 3u) << ReadFileOrEmpty(leased);
    id_ = words[0];
    held_ = {words[1], words[2]};
  }

  virtual std::vector<std::string> MoreLeaseRunFlags() const { return {}; }

  // SIGTERM ends lease-run and its command (128+SIGTERM); the lease is
  // released through r2.
  void TerminateLeaseRun() {
    ASSERT_EQ(kill(run_->pid(), SIGTERM), 0);
    absl::StatusOr<int> code = run_->Wait(absl::Seconds(15));
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 128 + SIGTERM) << run_->err();
    EXPECT_EQ(Client(Socket("r2.sock")).Get(id_).status().code(),
              absl::StatusCode::kNotFound);
  }

  std::unique_ptr<TestServer> r1_;
  std::unique_ptr<TestServer> r2_;
  std::unique_ptr<Process> run_;
  std::string id_;
  std::set<std::string> held_;
};

// A replica that stops answering (SIGSTOP: a frozen machine) for longer
// than the hold grace: lease-run's Hold stream finds it by its pings and
// moves to r2 in time, and the woken replica ends nothing.
TEST_F(LeaseRunReplicasTest, LeaseRunKeepsItsLeaseWhenItsReplicaIsStopped) {
  ASSERT_TRUE(r1_->Stop().ok());
  Client via_r2(Socket("r2.sock"));
  const absl::Time past_grace = absl::Now() + 2 * kHoldGrace + absl::Seconds(1);
  while (absl::Now() < past_grace) {
    EXPECT_TRUE(via_r2.Get(id_).ok()) << run_->err();
    absl::SleepFor(absl::Milliseconds(500));
  }
  r1_->Continue();
  absl::SleepFor(absl::Seconds(1));  // r1's housekeeping runs again
  EXPECT_TRUE(via_r2.Get(id_).ok()) << run_->err();
  TerminateLeaseRun();
}

TEST_F(LeaseRunReplicasTest, LeaseRunKeepsItsLeaseWhenItsReplicaIsKilled) {
  r1_->Crash();
  // The other 6 ports go to other leases at once; the command's two stay
  // its own, past the hold grace: its Hold moved to r2.
  Client via_r2(Socket("r2.sock"));
  AcquireSpec one;
  one.count = 1;
  std::vector<v1::Lease> others;
  for (absl::StatusOr<v1::Lease> other = via_r2.Acquire(one); other.ok();
       other = via_r2.Acquire(one)) {
    EXPECT_EQ(held_.count(std::to_string(other->base_port())), 0u)
        << other->base_port();
    others.push_back(*std::move(other));
  }
  EXPECT_EQ(others.size(), 6u);
  const absl::Time past_grace = absl::Now() + kHoldGrace + absl::Seconds(2);
  while (absl::Now() < past_grace) {
    absl::StatusOr<v1::Lease> extra = via_r2.Acquire(one);
    ASSERT_EQ(extra.status().code(), absl::StatusCode::kResourceExhausted)
        << "granted " << (extra.ok() ? extra->base_port() : 0);
    absl::SleepFor(absl::Milliseconds(250));
  }
  EXPECT_TRUE(via_r2.Get(id_).ok()) << run_->err();
  EXPECT_THAT(Portlease(Socket("r2.sock"), {"list"}),
              HasSubstr(id_.substr(0, 8)));

  // With the other leases released too, nothing is left.
  TerminateLeaseRun();
  for (const v1::Lease& other : others) {
    EXPECT_TRUE(via_r2
                    .Release(other.lease_id(), absl::ZeroDuration(),
                             other.fencing_token())
                    .ok());
  }
  absl::StatusOr<std::vector<v1::Lease>> left = via_r2.List();
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_TRUE(left->empty());
  EXPECT_THAT(Portlease(Socket("r2.sock"), {"list"}),
              Not(HasSubstr(id_.substr(0, 8))));
}

// lease-run --ttl 30s: renewed every 10 s.
class EtcdOutageTest : public LeaseRunReplicasTest {
 protected:
  std::vector<std::string> MoreLeaseRunFlags() const override {
    return {"--ttl", absl::FormatDuration(kTtl)};
  }
  static constexpr absl::Duration kTtl = absl::Seconds(30);
};

// The whole etcd cluster down (every member killed) across the renewal
// due at 2/3 of the TTL and back before the TTL: lease-run's lease
// outlives the outage, renewed as soon as etcd answers again (not one
// renewal period later, past its expiry), and stays held.
TEST_F(EtcdOutageTest, AHeldLeaseOutlivesAnOutageShorterThanItsTtl) {
  const absl::Time granted = absl::Now();
  for (size_t i = 0; i < cluster_->size(); ++i) {
    ASSERT_TRUE(cluster_->Kill(i).ok());
  }
  absl::SleepFor(granted + kTtl * 2 / 3 + absl::Seconds(1) - absl::Now());
  ASSERT_TRUE(cluster_->RestartAll().ok());
  Client via_r2(Socket("r2.sock"));
  EXPECT_TRUE(PollUntil([&] { return via_r2.Get(id_).ok(); },
                        absl::Seconds(10)))
      << run_->err();
  // Past the first expiry and a hold grace: renewed, still held.
  absl::SleepFor(granted + kTtl + kHoldGrace + absl::Seconds(1) - absl::Now());
  absl::StatusOr<v1::Lease> kept = via_r2.Get(id_);
  ASSERT_TRUE(kept.ok()) << kept.status() << "\n" << run_->err();
  EXPECT_FALSE(run_->Wait(absl::ZeroDuration()).ok()) << run_->err();
  EXPECT_THAT(run_->err(), Not(HasSubstr("lost")));
  // r1, keeping the Hold alive, said when etcd went and came back.
  const std::string log = ReadFileOrEmpty(dir_.File("r1.sock.log"));
  EXPECT_THAT(log, HasSubstr("WARN etcd does not answer ("));
  EXPECT_THAT(log, HasSubstr("INFO etcd answers again"));
  TerminateLeaseRun();
}

// README "Running portlease for many machines": its ```sh block, run as
// written but for the etcd endpoints (the test's cluster) and the sockets'
// directory (the test's, for /run/portlease/). Its ./integration-tests
// prints the ports lease-run exported and the pool as r3 lists it.
TEST_F(DaemonReplicasTest, TheReadmesReplicaBlockRunsAsWritten) {
  const std::vector<std::string> block = ShBlockStartingWith(
      README_PATH, "# three replicas of the pool of host ci-host");
  ASSERT_FALSE(block.empty()) << "no replica block in README";
  const std::string readme_endpoints =
      "http://etcd1:2379,http://etcd2:2379,http://etcd3:2379";
  std::string script = absl::StrJoin(block, "\n");
  ASSERT_THAT(script, HasSubstr(readme_endpoints));
  ASSERT_THAT(script, HasSubstr("/run/portlease/"));
  script = absl::StrReplaceAll(
      script, {{readme_endpoints, absl::StrJoin(cluster_->endpoints(), ",")},
               {"/run/portlease/", dir_.File("run") + "/"}});
  ASSERT_EQ(mkdir(dir_.File("run").c_str(), 0700), 0);
  WriteFile(dir_.File("integration-tests"),
            "#!/bin/sh\n"
            "echo \"redis=$REDIS_PORT web=$WEB_PORT id=$PORTLEASE_LEASE_ID\"\n"
            "PORTLEASE_ADDR=${PORTLEASE_ADDR##*,} portlease list\n");
  ASSERT_EQ(chmod(dir_.File("integration-tests").c_str(), 0755), 0);
  std::string bin_dir = LEASE_RUN_BIN;
  bin_dir.resize(bin_dir.rfind('/'));
  // Run in the test's directory; the replicas the block starts end with
  // the shell.
  const RunResult r = RunBinary(
      {"/bin/bash", "-ec",
       "cd " + dir_.path() +
           "\ntrap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n" + script},
      {{"PATH", bin_dir + ":/usr/bin:/bin"}, {"PORTLEASE_ADDR", std::nullopt}},
      dir_.path(), absl::Seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      r.out, m, std::regex("redis=(2[0-9]{4}) web=(2[0-9]{4}) id=([0-9a-f]+)")))
      << r.out;
  EXPECT_NE(m[1], m[2]);
  for (const std::string& port : {m[1].str(), m[2].str()}) {
    EXPECT_TRUE("20000" <= port && port <= "20999") << port;
  }
  EXPECT_THAT(r.out.substr(m.position(0)), HasSubstr(m[3].str().substr(0, 8)));
  // Off ci-host, every replica said it does not probe.
  EXPECT_THAT(r.err, HasSubstr("--pool-host=ci-host is not this host"));
}

// No etcd needed: the flags are refused before anything starts.
TEST(DaemonReplicaFlagsTest, MissingEtcdFlagsAreOneLineUsageErrors) {
  TempDir dir;
  const std::string listen = "--listen=unix:" + dir.File("s.sock");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--store=etcd"}, "--etcd-endpoints"},
      {{"--store=etcd", "--etcd-endpoints=http://127.0.0.1:1"}, "--pool-host"},
      {{"--store=etcd", "--etcd-endpoints=http://127.0.0.1:1", "--probe=none",
        "--reserve-pool=on"},
       "--reserve-pool=on"},
  };
  for (const auto& [flags, named] : cases) {
    std::vector<std::string> argv = {PORTLEASED_BIN, listen};
    argv.insert(argv.end(), flags.begin(), flags.end());
    RunResult r = RunBinary(argv, {}, dir.path());
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr(named));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

}  // namespace
}  // namespace portlease::testing
