// The real portleased losing its state under live lease-runs, each holding
// a lease whose ports its child binds:
//   - the database deleted, truncated to 0 bytes, or its WAL damaged after
//     kill -9: the restarted server finds fewer leases than DB.state
//     recorded, grants nothing during its recovery window, and every job
//     re-attaches its lease (its ports, its caller); afterwards new grants
//     never touch a live job's ports and no job lost its lease;
//   - a corrupt database is refused, one line saying DATA_LOSS, untouched;
//   - a holder that dies while the server is down: its lease is reclaimed
//     one hold grace after the restart, not at its TTL; a live holder's
//     lease stays.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "portlease/client.h"
#include "tests/client/test_support.h"
#include "tests/server/daemon_process.h"
#include "tests/support/test_ports.h"

namespace portlease::testing {
namespace {

using ::testing::HasSubstr;

// The server's hold grace here, and its recovery window: long enough for
// a lease-run to reconnect on a loaded machine (its channel's connection
// attempts are short). The jobs run with --on-lease-loss=warn, so that a
// slow reconnect is not a lost job; the leases they hold are what is
// checked.
constexpr absl::Duration kHoldGrace = absl::Seconds(6);
constexpr absl::Duration kRecoveryWindow = absl::Seconds(20);
constexpr int kJobs = 3;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

AcquireSpec OnePort() {
  AcquireSpec spec;
  spec.count = 1;
  spec.ttl = absl::Seconds(60);
  return spec;
}

// A job: lease-run holding 2 ports, its child binding both on loopback
// until `go` exists (at most a minute).
struct Job {
  std::unique_ptr<Process> run;
  std::string prefix;        // lease id prefix, from lease-run's line
  std::vector<uint32_t> ports;  // what the child bound
};

class LostStateTest : public ::testing::Test {
 protected:
  void StartServer(absl::Duration hold_grace = kHoldGrace) {
    absl::StatusOr<DaemonProcess> started = DaemonProcess::Start(
        PORTLEASED_BIN, ServerArgs(hold_grace),
        dir_.File(absl::StrCat("stderr", starts_++)),
        Scaled(absl::Seconds(20)));
    ASSERT_TRUE(started.ok()) << started.status();
    ASSERT_TRUE(started->ready()) << started->Stderr();
    daemon_.emplace(*std::move(started));
  }
  std::vector<std::string> ServerArgs(
      absl::Duration hold_grace = kHoldGrace) const {
    // --probe=none: nothing but the server's own records keeps a live job's
    // ports from being granted again (a probe would hide a double grant
    // of bound ports).
    return {"--listen=unix:" + socket_path(), "--db=" + db(),
            "--pool=" + pool_.Range(), "--probe=none", "--cooldown=0s",
            absl::StrCat("--hold-grace=", absl::FormatDuration(hold_grace)),
            absl::StrCat("--recovery-window=",
                         absl::FormatDuration(Scaled(kRecoveryWindow)))};
  }
  std::string socket_path() const { return dir_.File("s.sock"); }
  std::string address() const { return "unix:" + socket_path(); }
  std::string db() const { return dir_.File("leases.db"); }
  std::string go() const { return dir_.File("go"); }

  Client MakeClient(absl::Duration connect_timeout = absl::ZeroDuration()) {
    ClientOptions options = ScaledClientOptions();
    options.connect_timeout = connect_timeout;
    return Client(address(), options);
  }
  // Live leases' id prefixes; empty when the server does not answer.
  std::set<std::string> LivePrefixes() {
    std::set<std::string> out;
    absl::StatusOr<std::vector<v1::Lease>> leases = MakeClient().List();
    if (!leases.ok()) return out;
    for (const v1::Lease& lease : *leases) {
      if (lease.state() == v1::LEASE_STATE_LIVE) {
        out.insert(lease.lease_id_prefix());
      }
    }
    return out;
  }

  // Starts lease-run with a child that binds its two ports.
  Job StartJob(int i) {
    const std::string bound = dir_.File(absl::StrCat("bound", i));
    const std::string script = absl::StrCat(
        "import os, socket, time\n"
        "socks = []\n"
        "for p in os.environ['PORTLEASE_PORTS'].split():\n"
        "    s = socket.socket()\n"
        "    s.bind(('127.0.0.1', int(p)))\n"
        "    s.listen()\n"
        "    socks.append(s)\n"
        "open('", bound, ".tmp', 'w').write(os.environ['PORTLEASE_PORTS'])\n"
        "os.rename('", bound, ".tmp', '", bound, "')\n"
        "end = time.time() + 600\n"
        // Also ends once the test's directory is gone: a holder killed by
        // the test leaves this child behind.
        "while (os.path.exists('", bound, "') and\n"
        "       not os.path.exists('", go(), "') and time.time() < end):\n"
        "    time.sleep(0.05)\n");
    Job job;
    absl::StatusOr<std::unique_ptr<Process>> run = Process::Start(
        {LEASE_RUN_BIN, "--count", "2", "--on-lease-loss=warn", "--",
         "/usr/bin/python3", "-c",
         script},
        {{"PORTLEASE_ADDR", address()}, {"COMPOSE_PROJECT_NAME", std::nullopt}},
        dir_.path());
    if (!run.ok()) {
      ADD_FAILURE() << run.status();
      return job;
    }
    job.run = *std::move(run);
    if (!PollUntil([&] { return Exists(bound); }, absl::Seconds(20))) {
      ADD_FAILURE() << "job " << i << " never bound its ports: "
                    << job.run->err();
      return job;
    }
    for (absl::string_view p : absl::StrSplit(ReadAll(bound), ' ')) {
      uint32_t port = 0;
      if (absl::SimpleAtoi(p, &port)) job.ports.push_back(port);
    }
    // "lease-run: leased P-Q (lease 1a2b3c4d)"
    const std::string err = job.run->err();
    const size_t at = err.find("(lease ");
    if (at != std::string::npos) job.prefix = err.substr(at + 7, 8);
    EXPECT_EQ(job.ports.size(), 2u) << err;
    EXPECT_EQ(job.prefix.size(), 8u) << err;
    return job;
  }
  void StartJobs() {
    for (int i = 0; i < kJobs; ++i) jobs_.push_back(StartJob(i));
    // The state file records them (it is rewritten within 250 ms).
    ASSERT_TRUE(PollUntil(
        [&] {
          return ReadAll(db() + ".state").find(absl::StrCat(
                     "leases=", kJobs, " ")) != std::string::npos;
        },
        absl::Seconds(5)))
        << ReadAll(db() + ".state");
  }

  // After the restart: every job re-attaches, nothing is granted during
  // the window, and afterwards the pool's other ports are granted but
  // never a live job's.
  void ExpectEveryJobReattached() {
    std::set<std::string> expected;
    for (const Job& job : jobs_) expected.insert(job.prefix);
    ASSERT_TRUE(PollUntil([&] { return LivePrefixes() == expected; },
                          kRecoveryWindow - absl::Seconds(2)))
        << daemon_->Stderr();
    // Granting nothing yet: still in the window.
    absl::StatusOr<v1::Lease> early = MakeClient().Acquire(OnePort());
    EXPECT_EQ(early.status().code(), absl::StatusCode::kUnavailable)
        << early.status();
    EXPECT_THAT(early.status().message(), HasSubstr("recovering lost state"));
    EXPECT_THAT(daemon_->Stderr(), HasSubstr("ERROR recovering"));
    ASSERT_TRUE(PollUntil(
        [&] {
          return daemon_->Stderr().find("recovered") != std::string::npos;
        },
        kRecoveryWindow + absl::Seconds(5)))
        << daemon_->Stderr();
    // Fill the rest of the pool: no grant touches a live job's port.
    std::set<uint32_t> live_ports;
    for (const Job& job : jobs_) {
      live_ports.insert(job.ports.begin(), job.ports.end());
    }
    Client client = MakeClient();
    int granted = 0;
    for (int i = 0; i < 32; ++i) {
      absl::StatusOr<v1::Lease> lease = client.Acquire(OnePort());
      if (!lease.ok()) {
        EXPECT_EQ(lease.status().code(), absl::StatusCode::kResourceExhausted)
            << lease.status();
        break;
      }
      ++granted;
      EXPECT_FALSE(live_ports.contains(lease->base_port()))
          << "port " << lease->base_port() << " of a live job granted again";
    }
    EXPECT_EQ(granted, static_cast<int>(pool_.count() - live_ports.size()));
    // No job lost its lease; each is still running.
    EXPECT_EQ(LivePrefixes().size(), expected.size() + granted);
    for (const std::string& prefix : expected) {
      EXPECT_TRUE(LivePrefixes().contains(prefix)) << prefix;
    }
    for (Job& job : jobs_) {
      EXPECT_FALSE(job.run->Wait(absl::ZeroDuration()).ok())
          << "job exited: " << job.run->err();
    }
    // Done: the jobs end and release.
    std::ofstream(go()).close();
    for (Job& job : jobs_) {
      absl::StatusOr<int> code = job.run->Wait(absl::Seconds(20));
      ASSERT_TRUE(code.ok()) << job.run->err();
      EXPECT_EQ(*code, 0) << job.run->err();
    }
  }

  void TearDown() override { std::ofstream(go()).close(); }

  TempDir dir_;
  LeasedPorts pool_{12};
  int starts_ = 0;
  std::optional<DaemonProcess> daemon_;
  std::vector<Job> jobs_;
};

TEST_F(LostStateTest, DeletedDatabaseIsRepairedByTheJobsThatHoldLeases) {
  StartServer();
  StartJobs();
  daemon_->Stop(SIGKILL);
  ASSERT_EQ(unlink(db().c_str()), 0);
  unlink((db() + "-wal").c_str());
  StartServer();
  ExpectEveryJobReattached();
}

TEST_F(LostStateTest, TruncatedDatabaseIsRepairedByTheJobsThatHoldLeases) {
  StartServer();
  StartJobs();
  daemon_->Stop(SIGKILL);
  ASSERT_EQ(truncate(db().c_str(), 0), 0);
  truncate((db() + "-wal").c_str(), 0);
  StartServer();
  ExpectEveryJobReattached();
}

TEST_F(LostStateTest, GarbageInTheWalIsRepairedByTheJobsThatHoldLeases) {
  StartServer();
  StartJobs();
  daemon_->Stop(SIGKILL);
  // The commits are in the WAL (nothing checkpointed yet): garbage after
  // its header drops them.
  const std::string wal = db() + "-wal";
  struct stat st;
  ASSERT_EQ(stat(wal.c_str(), &st), 0);
  ASSERT_GT(st.st_size, 64);
  const int fd = open(wal.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  const std::string garbage(static_cast<size_t>(st.st_size) - 40, '\x5a');
  ASSERT_EQ(pwrite(fd, garbage.data(), garbage.size(), 40),
            static_cast<ssize_t>(garbage.size()));
  close(fd);
  StartServer();
  ExpectEveryJobReattached();
}

TEST_F(LostStateTest, CorruptDatabaseIsRefusedUntouched) {
  StartServer();
  Client client = MakeClient();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(client.Acquire(OnePort()).ok());
  ASSERT_EQ(daemon_->Stop(SIGTERM), 0);
  daemon_.reset();
  // Damage the second page (the leases table).
  std::string bytes = ReadAll(db());
  ASSERT_GE(bytes.size(), 8192u);
  for (size_t i = 4096 + 16; i < 8192; ++i) bytes[i] = '\x5a';
  std::ofstream(db(), std::ios::binary | std::ios::trunc) << bytes;
  std::vector<std::string> argv = ServerArgs();
  argv.insert(argv.begin(), PORTLEASED_BIN);
  RunResult refused = RunBinary(argv, {}, dir_.path());
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("DATA_LOSS"));
  EXPECT_THAT(refused.err, HasSubstr("was not modified"));
  EXPECT_THAT(refused.err, HasSubstr("move it aside"));
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1)
      << refused.err;
  EXPECT_EQ(ReadAll(db()), bytes);
}

TEST_F(LostStateTest, HolderThatDiesWhileTheServerIsDownIsReclaimedAfterOneGrace) {
  // The live holder must attach again within the grace, on a loaded
  // machine too.
  const absl::Duration grace = Scaled(absl::Seconds(10));
  StartServer(grace);
  Job dies = StartJob(0);
  Job lives = StartJob(1);
  ASSERT_EQ(LivePrefixes().size(), 2u);
  daemon_->Stop(SIGKILL);
  // The holder dies while the server is down (its child ends at TearDown).
  ASSERT_EQ(kill(dies.run->pid(), SIGKILL), 0);
  ASSERT_TRUE(dies.run->Wait(absl::Seconds(10)).ok());
  StartServer(grace);
  const absl::Time restarted = absl::Now();
  // Kept at first (it had an open Hold stream: one grace to come back).
  EXPECT_TRUE(LivePrefixes().contains(dies.prefix));
  ASSERT_TRUE(PollUntil([&] { return !LivePrefixes().contains(dies.prefix); },
                        grace + absl::Seconds(4)))
      << daemon_->Stderr();
  EXPECT_GE(absl::Now() - restarted, grace - absl::Milliseconds(500));
  // The log line is written by the log thread just after the commit.
  EXPECT_TRUE(PollUntil(
      [&] {
        return absl::StrContains(daemon_->Stderr(),
                                 "reclaim lease=" + dies.prefix);
      },
      absl::Seconds(10)))
      << daemon_->Stderr();
  // The live holder attached again and keeps its lease.
  absl::SleepFor(absl::Seconds(1));
  EXPECT_TRUE(LivePrefixes().contains(lives.prefix)) << daemon_->Stderr();
  EXPECT_FALSE(lives.run->Wait(absl::ZeroDuration()).ok()) << lives.run->err();
}

}  // namespace
}  // namespace portlease::testing
