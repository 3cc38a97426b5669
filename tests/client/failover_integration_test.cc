// A client with several server addresses against real portleased
// processes: calls skip a dead address, a list of dead addresses fails
// naming each, and a held lease moves to a server started on another
// socket over the same database (the single-host stand-in for a replica
// dying).
#include <signal.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "portlease/client.h"
#include "portlease/scoped_lease.h"
#include "testing/time_scale.h"
#include "tests/client/test_support.h"

namespace portlease::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kPool[] = "20000-20007";

class FailoverTest : public ::testing::Test {
 protected:
  std::string Socket(const std::string& name) {
    return "unix:" + dir_.File(name);
  }

  absl::StatusOr<std::unique_ptr<TestServer>> StartServer(
      const std::string& socket, const std::string& db = ":memory:") {
    return TestServer::Start(dir_.path(), {"--pool", kPool, "--hold_grace=3s"},
                             socket, db);
  }

  // The leases `portlease list` shows through `address`.
  std::string ListThrough(const std::string& address) {
    RunResult list = RunBinary({PORTLEASE_BIN, "list"},
                               {{"PORTLEASE_ADDR", address}}, dir_.path());
    EXPECT_EQ(list.exit_code, 0) << list.err;
    return list.out;
  }

  TempDir dir_;
};

TEST_F(FailoverTest, DeadFirstAddressIsSkipped) {
  auto live = StartServer("live.sock");
  ASSERT_TRUE(live.ok()) << live.status();
  Client client({Socket("dead.sock"), (*live)->address()});
  AcquireSpec spec;
  spec.count = 2;
  spec.ttl = absl::Seconds(30);
  absl::StatusOr<v1::Lease> lease = client.Acquire(spec);
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(client.address(), (*live)->address());  // sticky from now on
  absl::StatusOr<v1::Lease> renewed = client.Renew(lease->lease_id());
  EXPECT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_TRUE(client.Release(lease->lease_id()).ok());
  absl::StatusOr<std::vector<v1::Lease>> left = client.List();
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_TRUE(left->empty());
  // An application error is the server's answer, not a reason to move on.
  EXPECT_EQ(client.Get(lease->lease_id()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(client.address(), (*live)->address());
}

// A server that accepted the connection but does not answer (stopped, as
// a replica whose machine froze): the call moves on at its deadline.
TEST_F(FailoverTest, AHungServerIsLeftAtTheCallsDeadline) {
  auto hung = StartServer("hung.sock");
  ASSERT_TRUE(hung.ok()) << hung.status();
  auto live = StartServer("live.sock");
  ASSERT_TRUE(live.ok()) << live.status();
  ClientOptions options;
  options.rpc_timeout = absl::Seconds(1);
  Client client({(*hung)->address(), (*live)->address()}, options);
  ASSERT_TRUE(client.Status().ok());  // connected to the first
  EXPECT_EQ(client.address(), (*hung)->address());

  ASSERT_TRUE((*hung)->Stop().ok());
  AcquireSpec spec;
  spec.count = 1;
  spec.ttl = absl::Seconds(30);
  absl::StatusOr<v1::Lease> lease = client.Acquire(spec);
  (*hung)->Continue();
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(client.address(), (*live)->address());
  EXPECT_TRUE(client.Release(lease->lease_id()).ok());

  // A waiting Acquire's deadline is its answer: not retried elsewhere.
  Client one({(*live)->address()}, options);
  spec.count = 7;  // all but the port cooling down after its release
  absl::StatusOr<v1::Lease> all = one.Acquire(spec);
  ASSERT_TRUE(all.ok()) << all.status();
  Client both({(*live)->address(), (*hung)->address()}, options);
  spec.count = 2;
  spec.wait = absl::Milliseconds(300);
  EXPECT_EQ(both.Acquire(spec).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(both.address(), (*live)->address());
}

TEST_F(FailoverTest, OnlyDeadAddressesFailNamingEachWithinConnectTimeout) {
  ClientOptions options;
  options.connect_timeout = absl::Seconds(1);
  Client client({Socket("a.sock"), Socket("b.sock")}, options);
  EXPECT_THAT(client.addresses(),
              ElementsAre(Socket("a.sock"), Socket("b.sock")));
  const absl::Time start = absl::Now();
  absl::StatusOr<v1::StatusResponse> status = client.Status();
  EXPECT_LT(absl::Now() - start, Scaled(absl::Seconds(3)));
  ASSERT_EQ(status.status().code(), absl::StatusCode::kUnavailable);
  const std::string message(status.status().message());
  EXPECT_THAT(message, HasSubstr(Socket("a.sock") + " (no socket at " +
                                 dir_.File("a.sock") + ")"));
  EXPECT_THAT(message, HasSubstr(Socket("b.sock") + " (no socket at " +
                                 dir_.File("b.sock") + ")"));
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

TEST_F(FailoverTest, HeldLeaseMovesToAServerOnTheSameDatabase) {
  const std::string db = dir_.File("d.db");
  auto a = StartServer("a.sock", db);
  ASSERT_TRUE(a.ok()) << a.status();
  auto client = std::make_shared<Client>(
      std::vector<std::string>{Socket("a.sock"), Socket("b.sock")});
  ScopedLeaseOptions options;
  options.spec.count = 1;
  options.spec.ttl = absl::Seconds(30);
  auto lease = ScopedLease::Acquire(client, options);
  ASSERT_TRUE(lease.ok()) << lease.status();
  const std::string id = (*lease)->id();

  (*a)->Crash();
  auto b = StartServer("b.sock", db);
  ASSERT_TRUE(b.ok()) << b.status();
  // Held through B: B answers for it and the client stays there.
  EXPECT_TRUE(PollUntil([&] { return client->address() == Socket("b.sock"); },
                        absl::Seconds(10)));
  EXPECT_TRUE(
      PollUntil([&] { return (*lease)->status().ok(); }, absl::Seconds(5)))
      << (*lease)->status();
  EXPECT_THAT(ListThrough(Socket("b.sock")), HasSubstr(id.substr(0, 8)));
  // Past B's hold grace (3 s) the lease is still there: B holds it.
  absl::SleepFor(absl::Seconds(4));
  EXPECT_TRUE((*lease)->status().ok()) << (*lease)->status();
  Client via_b(Socket("b.sock"));
  EXPECT_TRUE(via_b.Get(id).ok());
  // Released at the end, through B.
  EXPECT_TRUE((*lease)->Release().ok());
  absl::StatusOr<std::vector<v1::Lease>> left = via_b.List();
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_TRUE(left->empty());
}

TEST_F(FailoverTest, LeaseRunKeepsItsLeaseWhenItsServerDies) {
  const std::string db = dir_.File("d.db");
  auto a = StartServer("a.sock", db);
  ASSERT_TRUE(a.ok()) << a.status();
  const std::string id_file = dir_.File("id");
  auto run = Process::Start(
      {LEASE_RUN_BIN, "--count", "1", "--", "/bin/sh", "-c",
       "echo $PORTLEASE_LEASE_ID > " + id_file + "; exec sleep 60"},
      {{"PORTLEASE_ADDR", Socket("a.sock") + "," + Socket("b.sock")}},
      dir_.path());
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_TRUE(PollUntil([&] { return ReadFileOrEmpty(id_file).size() > 32; },
                        absl::Seconds(10)))
      << (*run)->err();
  const std::string id = ReadFileOrEmpty(id_file).substr(0, 32);

  (*a)->Crash();
  auto b = StartServer("b.sock", db);
  ASSERT_TRUE(b.ok()) << b.status();
  // Past B's hold grace (3 s): still there, so held through B.
  absl::SleepFor(absl::Seconds(4));
  Client via_b(Socket("b.sock"));
  EXPECT_TRUE(via_b.Get(id).ok()) << (*run)->err();
  EXPECT_THAT(ListThrough(Socket("b.sock")), HasSubstr(id.substr(0, 8)));
  // lease-run and its command still run; SIGTERM ends both and releases
  // the lease through B.
  EXPECT_EQ(kill((*run)->pid(), SIGTERM), 0);
  absl::StatusOr<int> code = (*run)->Wait(absl::Seconds(10));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 128 + SIGTERM) << (*run)->err();
  EXPECT_EQ(via_b.Get(id).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(FailoverTest, ListInTheEnvironmentOfTheCliAndLeaseRun) {
  auto live = StartServer("live.sock");
  ASSERT_TRUE(live.ok()) << live.status();
  const EnvChanges env = {
      {"PORTLEASE_ADDR", Socket("dead.sock") + ", " + (*live)->address()}};
  RunResult status = RunBinary({PORTLEASE_BIN, "status"}, env, dir_.path());
  EXPECT_EQ(status.exit_code, 0) << status.err;
  RunResult run = RunBinary({LEASE_RUN_BIN, "--count", "1", "--", "/bin/sh",
                             "-c", "test -n \"$PORTLEASE_PORTS\""},
                            env, dir_.path());
  EXPECT_EQ(run.exit_code, 0) << run.err;
  // Only its usual line: nothing about the dead address.
  EXPECT_THAT(run.err, StartsWith("lease-run: leased "));
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  Client client((*live)->address());
  EXPECT_TRUE(client.List()->empty());  // released through the live one
}

TEST_F(FailoverTest, BadListIsOneLineNamingTheEntry) {
  const EnvChanges env = {
      {"PORTLEASE_ADDR", Socket("a.sock") + ",localhost:http"}};
  for (const std::vector<std::string>& argv :
       std::vector<std::vector<std::string>>{
           {PORTLEASE_BIN, "status"},
           {LEASE_RUN_BIN, "--count", "1", "--", "/bin/true"}}) {
    RunResult r = RunBinary(argv, env, dir_.path());
    EXPECT_EQ(r.exit_code, 2) << r.err;  // a usage error
    EXPECT_THAT(r.err, HasSubstr("\"localhost:http\" (entry 2 of")) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

}  // namespace
}  // namespace portlease::testing
