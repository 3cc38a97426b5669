// Client faults against a real portleased: a holder killed with SIGKILL, a
// holder stopped with SIGSTOP (its connection stays up, nothing moves), and
// an owner whose pid is alive while its holder is gone.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "portlease/client.h"
#include "portlease/owner.h"
#include "testing/time_scale.h"
#include "tests/client/test_support.h"

namespace portlease::testing {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kHoldGrace = absl::Seconds(1);

class ClientFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start(
        dir_.path(), {"--pool", "20100-20115", "--cooldown=0s",
                      absl::StrCat("--hold_grace=", absl::FormatDuration(kHoldGrace))});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    client_ = std::make_unique<Client>(server_->address());
    env_ = {{"PORTLEASE_ADDR", server_->address()},
            {"COMPOSE_PROJECT_NAME", std::nullopt}};
  }

  size_t LiveLeases() {
    auto leases = client_->List();
    if (!leases.ok()) return 999;
    size_t live = 0;
    for (const v1::Lease& lease : *leases) {
      if (lease.state() == v1::LEASE_STATE_LIVE) ++live;
    }
    return live;
  }

  // Polls every 10 ms until no lease is live; how long that took.
  absl::Duration TimeUntilNoLease(absl::Duration timeout) {
    const absl::Time start = absl::Now();
    while (LiveLeases() != 0 && absl::Now() - start < timeout) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    return absl::Now() - start;
  }

  // Starts lease-run holding one port around a shell that writes its pid
  // and the lease id, and waits until it is running.
  std::unique_ptr<Process> StartHolder(const std::vector<std::string>& flags) {
    std::vector<std::string> argv = {LEASE_RUN_BIN};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.insert(argv.end(),
                {"--", "/bin/sh", "-c",
                 "echo $PORTLEASE_LEASE_ID > " + dir_.File("id") + "; echo $$ > " +
                     dir_.File("child.pid") + "; exec sleep 60"});
    auto p = Process::Start(argv, env_, dir_.path());
    if (!p.ok()) {
      ADD_FAILURE() << p.status();
      return nullptr;
    }
    EXPECT_TRUE(PollUntil(
        [&] { return !ReadFileOrEmpty(dir_.File("child.pid")).empty(); },
        absl::Seconds(10)));
    return *std::move(p);
  }

  // Kills the process group of the holder's command, which outlives a
  // SIGKILLed lease-run.
  void KillOrphan() {
    int child = 0;
    if (absl::SimpleAtoi(
            absl::StripAsciiWhitespace(ReadFileOrEmpty(dir_.File("child.pid"))),
            &child) &&
        child > 0) {
      kill(-child, SIGKILL);
    }
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<Client> client_;
  EnvChanges env_;
};

TEST_F(ClientFaultsTest, SigkilledHolderIsReclaimedWithinTheHoldGrace) {
  // A long ttl: only the broken Hold stream can end the lease early.
  std::unique_ptr<Process> holder = StartHolder({"--count", "2", "--ttl", "10m"});
  ASSERT_NE(holder, nullptr);
  ASSERT_EQ(LiveLeases(), 1u);
  const absl::Time killed = absl::Now();
  kill(holder->pid(), SIGKILL);
  const absl::Duration reclaimed = TimeUntilNoLease(absl::Seconds(10));
  KillOrphan();
  std::printf("SIGKILLed holder: lease reclaimed %s after the kill "
              "(hold grace %s)\n",
              absl::FormatDuration(absl::Now() - killed).c_str(),
              absl::FormatDuration(kHoldGrace).c_str());
  EXPECT_EQ(LiveLeases(), 0u);
  // Grace, plus one 100 ms tick, plus slack for a loaded machine (more
  // under the sanitizers: testing/time_scale.h).
  EXPECT_GE(reclaimed, kHoldGrace - absl::Milliseconds(50));
  EXPECT_LT(reclaimed, kHoldGrace + Scaled(absl::Seconds(1)));
  EXPECT_EQ(*holder->Wait(absl::Seconds(5)), 128 + SIGKILL);
}

TEST_F(ClientFaultsTest, StoppedHolderExpiresAtTtlAndLearnsItOnResume) {
  const absl::Duration ttl = absl::Seconds(3);
  std::unique_ptr<Process> holder =
      StartHolder({"--count", "1", "--ttl", absl::FormatDuration(ttl)});
  ASSERT_NE(holder, nullptr);
  const std::string id(
      absl::StripAsciiWhitespace(ReadFileOrEmpty(dir_.File("id"))));
  ASSERT_EQ(LiveLeases(), 1u);
  // Half-open: the process and its connection stay, nothing happens on it.
  // Its last renewal was at most ttl/3 ago.
  ASSERT_TRUE(StopProcess(holder->pid()).ok());
  const absl::Duration reclaimed = TimeUntilNoLease(absl::Seconds(10));
  std::printf("SIGSTOPped holder: lease reclaimed %s after the stop (ttl %s)\n",
              absl::FormatDuration(reclaimed).c_str(),
              absl::FormatDuration(ttl).c_str());
  EXPECT_EQ(LiveLeases(), 0u);
  // At ttl after the last renewal (renewals come every ttl/3, later on a
  // loaded machine): well after the hold grace, since the connection stayed
  // up, and not long after ttl.
  EXPECT_GT(reclaimed, kHoldGrace + absl::Milliseconds(400));
  EXPECT_LT(reclaimed, ttl + Scaled(absl::Seconds(1)));
  EXPECT_EQ(client_->Get(id).status().code(), absl::StatusCode::kNotFound);

  // Resumed, its next renewal finds the lease gone: it stops the command and
  // exits 75 (EX_TEMPFAIL) with a message.
  ASSERT_EQ(kill(holder->pid(), SIGCONT), 0);
  absl::StatusOr<int> code = holder->Wait(absl::Seconds(15));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 75) << holder->err();
  EXPECT_THAT(holder->err(), HasSubstr("lost"));
  KillOrphan();
}

// The server's only liveness signal for a holder is its Hold stream, never
// the pid in the owner metadata: a recycled pid (here: a pid that is alive,
// with the right start time even) cannot keep a dead holder's lease.
TEST_F(ClientFaultsTest, LivePidInOwnerMetadataDoesNotKeepALeaseAlive) {
  ProcessFacts facts = CurrentProcessFacts();
  ASSERT_FALSE(facts.start_ticks.empty());
  AcquireSpec spec;
  spec.count = 1;
  spec.ttl = absl::Minutes(10);
  spec.owner = BuildOwnerMetadata(facts);
  ASSERT_EQ(spec.owner.at("pid"), absl::StrCat(getpid()));
  ASSERT_EQ(spec.owner.at("pid_start"), facts.start_ticks);
  absl::StatusOr<v1::Lease> lease = client_->Acquire(spec);
  ASSERT_TRUE(lease.ok()) << lease.status();

  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    auto stream = client_->stub().Hold(&context);
    v1::HoldRequest request;
    request.set_lease_id(lease->lease_id());
    ASSERT_TRUE(stream->Write(request));
    v1::HoldResponse response;
    ASSERT_TRUE(stream->Read(&response));
    context.TryCancel();  // the holder "dies"; its pid lives on
    while (stream->Read(&response)) {
    }
    (void)stream->Finish();
  }
  const absl::Duration reclaimed = TimeUntilNoLease(absl::Seconds(10));
  EXPECT_EQ(LiveLeases(), 0u);
  EXPECT_LT(reclaimed, kHoldGrace + Scaled(absl::Seconds(1)));
  EXPECT_EQ(client_->Get(lease->lease_id()).status().code(),
            absl::StatusCode::kNotFound);
}

// Owner metadata names a process by pid and start time, so that a reader
// can tell a recycled pid from the owner.
TEST(OwnerIdentityTest, PidStartTellsARecycledPidApart) {
  ProcessFacts self = CurrentProcessFacts();
  ASSERT_FALSE(self.start_ticks.empty());
  std::ifstream stat("/proc/self/stat");
  std::string content((std::istreambuf_iterator<char>(stat)),
                      std::istreambuf_iterator<char>());
  EXPECT_EQ(StartTimeFromProcStat(content), self.start_ticks);
  // Same pid, another start time: another process.
  ProcessFacts recycled = self;
  recycled.start_ticks = absl::StrCat(std::stoull(self.start_ticks) + 1);
  EXPECT_NE(BuildOwnerMetadata(self), BuildOwnerMetadata(recycled));
}

}  // namespace
}  // namespace portlease::testing
