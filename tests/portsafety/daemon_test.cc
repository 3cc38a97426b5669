// The real binaries: portleased probing the live host, lease-run whose
// child leaves a listener behind when lease-run dies, and the event log's
// foreign-busy line.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "portlease/client.h"
#include "common/host/host_test_util.h"
#include "tests/client/test_support.h"
#include "tests/portsafety/portsafety_support.h"
#include "tests/server/daemon_process.h"
#include "tests/support/test_ports.h"

namespace portlease::portsafety {
namespace {

using testing::EnvChanges;
using testing::LeasedPorts;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::Process;
using testing::ReadFileOrEmpty;

// portleased serving a pool of one port, probing the host, with short
// timings; its stderr (the event log) goes to dir/portleased.err.
absl::StatusOr<DaemonProcess> StartDaemon(const ScratchDir& dir, Port port) {
  return DaemonProcess::Start(
      PORTLEASED_BIN,
      {"--listen=unix:" + dir.File("s.sock"),
       "--db=:memory:", absl::StrCat("--pool=", port, "-", port),
       "--ephemeral=allow", "--probe=system", "--cooldown=300ms",
       "--busy_backoff=200ms", "--hold_grace=500ms"},
      dir.File("portleased.err"));
}

// Reads a decimal number from the first line of `path`, once it is there.
std::optional<int64_t> ReadNumberWithin(const std::string& path,
                                        absl::Duration timeout) {
  std::optional<int64_t> number;
  testing::PollUntil(
      [&] {
        std::string text = ReadFileOrEmpty(path);
        if (text.empty() || text.back() != '\n') return false;
        int64_t value = 0;
        if (!absl::SimpleAtoi(absl::StripSuffix(text, "\n"), &value)) {
          return false;
        }
        number = value;
        return true;
      },
      timeout);
  return number;
}

// Kills, at the end of a test, the processes a test's children left behind
// (recorded by pid as they are learned).
class Reaper {
 public:
  ~Reaper() {
    for (pid_t pid : pids_) kill(pid, SIGKILL);
  }
  void Add(pid_t pid) { pids_.push_back(pid); }

 private:
  std::vector<pid_t> pids_;
};

// The server's only lease, once List shows it draining (within 10 s).
std::optional<v1::Lease> AwaitOnlyLeaseDraining(const Client& client) {
  std::optional<v1::Lease> draining;
  testing::PollUntil(
      [&] {
        absl::StatusOr<std::vector<v1::Lease>> now = client.List();
        if (!now.ok() || now->size() != 1) return false;
        if ((*now)[0].state() != v1::LEASE_STATE_DRAINING) return false;
        draining = (*now)[0];
        return true;
      },
      absl::Seconds(10));
  return draining;
}

bool Gone(pid_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }

// lease-run is killed while its child's detached listener keeps the leased
// port: the lease ends (Hold grace) but the port drains, is listed as
// draining with its old owner, and is not granted again until the listener
// exits.
TEST(DaemonTest, OrphanedListenerKeepsLeasedPortDraining) {
  ScratchDir dir;
  const LeasedPorts leased(1);
  const Port port = leased.base();
  absl::StatusOr<DaemonProcess> daemon = StartDaemon(dir, port);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  ASSERT_TRUE(daemon->ready()) << daemon->Stderr();
  Client client(daemon->addresses()[0], testing::ScaledClientOptions());

  // The child records its pid, starts the listener in a session of its own
  // (so nothing aimed at lease-run's process group reaches it) and sleeps.
  const std::string script = absl::StrCat(
      "echo $$ > ", dir.File("child.pid"), "; setsid -f sh -c 'echo $$ > ",
      dir.File("listener.pid"), "; exec ", HOST_TEST_LISTENER_PATH,
      " \"$PORT_0\" > ", dir.File("listener.port"), "'; exec sleep 60");
  Reaper reaper;
  absl::StatusOr<std::unique_ptr<Process>> lease_run = Process::Start(
      {LEASE_RUN_BIN, "--count", "1", "--ttl", "30s", "--", "/bin/sh", "-c",
       script},
      EnvChanges{{"PORTLEASE_ADDR", daemon->addresses()[0]}}, dir.path());
  ASSERT_TRUE(lease_run.ok()) << lease_run.status();
  std::optional<int64_t> child =
      ReadNumberWithin(dir.File("child.pid"), absl::Seconds(10));
  ASSERT_TRUE(child.has_value()) << (*lease_run)->err();
  reaper.Add(static_cast<pid_t>(*child));
  std::optional<int64_t> listener =
      ReadNumberWithin(dir.File("listener.pid"), absl::Seconds(10));
  ASSERT_TRUE(listener.has_value()) << (*lease_run)->err();
  reaper.Add(static_cast<pid_t>(*listener));
  std::optional<int64_t> bound =
      ReadNumberWithin(dir.File("listener.port"), absl::Seconds(10));
  ASSERT_EQ(bound, std::optional<int64_t>(port)) << (*lease_run)->err();

  absl::StatusOr<std::vector<v1::Lease>> leases = client.List();
  ASSERT_TRUE(leases.ok()) << leases.status();
  ASSERT_EQ(leases->size(), 1u);
  EXPECT_EQ((*leases)[0].state(), v1::LEASE_STATE_LIVE);
  EXPECT_EQ((*leases)[0].base_port(), port);
  // List shows id prefixes only; the full id stays with the holder.
  const std::string lease_id = (*leases)[0].lease_id_prefix();

  ASSERT_EQ(kill((*lease_run)->pid(), SIGKILL), 0);
  ASSERT_TRUE((*lease_run)->Wait(absl::Seconds(10)).ok());

  // Hold grace (500 ms) runs out: the lease ends, but drains.
  std::optional<v1::Lease> found = AwaitOnlyLeaseDraining(client);
  ASSERT_TRUE(found.has_value()) << daemon->Stderr();
  const v1::Lease& draining = *found;
  EXPECT_EQ(draining.lease_id_prefix(), lease_id);
  EXPECT_EQ(draining.base_port(), port);
  EXPECT_EQ(draining.owner().at("pid"), absl::StrCat((*lease_run)->pid()))
      << "the draining lease keeps its old owner";

  absl::StatusOr<v1::WhoResponse> who = client.Who({port});
  ASSERT_TRUE(who.ok()) << who.status();
  ASSERT_EQ(who->ports_size(), 1);
  EXPECT_EQ(who->ports(0).pool_state(), "draining");
  EXPECT_EQ(who->ports(0).lease().lease_id_prefix(), lease_id);
  bool listener_seen = false;
  for (const v1::PortHolder& holder : who->ports(0).holders()) {
    if (holder.pid() == *listener) {
      listener_seen = true;
      EXPECT_THAT(holder.command(), HasSubstr("host_test_listener"));
      EXPECT_EQ(holder.state(), "LISTEN");
    }
  }
  EXPECT_TRUE(listener_seen) << who->DebugString();

  // Several drain re-probes (1 s apart) pass; the port stays out.
  absl::StatusOr<v1::Lease> early =
      AcquireRepeatedly(client, false, absl::Milliseconds(2500));
  ASSERT_FALSE(early.ok()) << "granted a port a leftover listener holds";
  EXPECT_TRUE(absl::IsResourceExhausted(early.status())) << early.status();
  EXPECT_THAT(early.status().message(), HasSubstr("1 draining"));

  ASSERT_EQ(kill(static_cast<pid_t>(*listener), SIGKILL), 0);
  ASSERT_EQ(kill(static_cast<pid_t>(*child), SIGKILL), 0);
  ASSERT_TRUE(testing::PollUntil(
      [&] { return Gone(static_cast<pid_t>(*child)); }, absl::Seconds(10)));
  // A drain probe (<= 1 s) then the cool-down (300 ms).
  absl::StatusOr<v1::Lease> again =
      AcquireWithin(client, false, absl::Seconds(15));
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << daemon->Stderr();
  EXPECT_EQ(again->base_port(), port);

  const std::string log = daemon->Stderr();
  EXPECT_THAT(log, HasSubstr("reclaim lease=" + lease_id));
  EXPECT_THAT(log, HasSubstr("draining lease=" + lease_id));
  EXPECT_THAT(log, HasSubstr("drained lease=" + lease_id));
}

// A portleased whose pool is one port leased from the suite's server, and
// the test's lease on it.
class LeasedPortTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = leased_.base();
    absl::StatusOr<DaemonProcess> daemon = StartDaemon(dir_, port_);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    ASSERT_TRUE(daemon->ready()) << daemon->Stderr();
    daemon_.emplace(*std::move(daemon));
    client_ = std::make_unique<Client>(daemon_->addresses()[0],
                                       testing::ScaledClientOptions());
    absl::StatusOr<v1::Lease> lease = AcquireOne(*client_, false);
    ASSERT_TRUE(lease.ok()) << lease.status();
    ASSERT_EQ(lease->base_port(), port_);
    lease_ = *std::move(lease);
    prefix_ = lease_.lease_id().substr(0, 8);
  }

  ScratchDir dir_;
  LeasedPorts leased_{1};
  Port port_ = 0;
  std::optional<DaemonProcess> daemon_;
  std::unique_ptr<Client> client_;
  v1::Lease lease_;
  std::string prefix_;
};

// A lease released while its port is still bound (a leaked child still
// listens): the release answers at once, then the server finds the
// listener and lists the ended lease as draining, and grants the port
// again only once the listener is gone.
TEST_F(LeasedPortTest, ReleasedWhileBoundDrainsAfterTheReply) {
  const Port port = port_;
  const std::string& prefix = prefix_;
  Client& client = *client_;

  absl::StatusOr<testing_util::ScopedFd> listener = testing_util::OpenSocket(
      {.type = SOCK_STREAM, .address = "127.0.0.1", .port = port,
       .listen = true});
  ASSERT_TRUE(listener.ok()) << listener.status();
  ASSERT_TRUE(client.Release(lease_.lease_id()).ok());

  std::optional<v1::Lease> found = AwaitOnlyLeaseDraining(client);
  ASSERT_TRUE(found.has_value()) << daemon_->Stderr();
  const v1::Lease& draining = *found;
  EXPECT_EQ(draining.lease_id_prefix(), prefix);
  EXPECT_EQ(draining.base_port(), port);
  absl::StatusOr<v1::Lease> early = AcquireOne(client, false);
  ASSERT_FALSE(early.ok()) << "granted a port a leftover listener holds";
  EXPECT_THAT(early.status().message(), HasSubstr("1 draining"));

  listener->reset();
  absl::StatusOr<v1::Lease> again =
      AcquireWithin(client, false, absl::Seconds(15));
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << daemon_->Stderr();
  EXPECT_EQ(again->base_port(), port);
  const std::string log = daemon_->Stderr();
  EXPECT_THAT(log, HasSubstr("release lease=" + prefix));
  EXPECT_THAT(log, HasSubstr("draining lease=" + prefix));
  EXPECT_THAT(log, HasSubstr("drained lease=" + prefix));
}

// A service that served a connection and shut down cleanly leaves a
// TIME_WAIT on its port: the release ends the lease (no draining, nobody
// listens), while a grant still refuses the port until the TIME_WAIT goes
// (a server binding without SO_REUSEADDR would fail on it).
TEST_F(LeasedPortTest, ReleaseAfterACleanShutdownEndsTheLease) {
  const Port port = port_;
  const std::string& prefix = prefix_;
  Client& client = *client_;

  {  // The service: SO_REUSEADDR, as servers set it; it closes first.
    absl::StatusOr<testing_util::ScopedFd> listener = testing_util::OpenSocket(
        {.type = SOCK_STREAM, .address = "127.0.0.1", .port = port,
         .reuse_address = true, .listen = true});
    ASSERT_TRUE(listener.ok()) << listener.status();
    absl::StatusOr<testing_util::ScopedFd> peer =
        testing_util::ConnectLoopback(port, 0, absl::Seconds(5));
    ASSERT_TRUE(peer.ok()) << peer.status();
    testing_util::ScopedFd served(
        accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_GE(served.get(), 0);
    served.reset();
    peer->reset();
  }
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        for (const SocketEntry& e : testing_util::LiveEntries(port, false)) {
          if (e.state == "TIME_WAIT") return true;
        }
        return false;
      },
      absl::Seconds(5)));
  ASSERT_TRUE(client.Release(lease_.lease_id()).ok());
  // A few housekeeping ticks (100 ms each) later: ended, not draining.
  absl::StatusOr<std::vector<v1::Lease>> left;
  EXPECT_TRUE(testing::PollUntil(
      [&] {
        left = client.List();
        return left.ok() && left->empty();
      },
      absl::Seconds(5)))
      << (left.ok() && !left->empty() ? left->front().DebugString()
                                      : left.status().ToString());
  EXPECT_THAT(daemon_->Stderr(), Not(HasSubstr("draining lease=" + prefix)));
  // The TIME_WAIT lasts a minute: meanwhile the port is not granted.
  absl::StatusOr<v1::Lease> early = AcquireOne(client, false);
  ASSERT_FALSE(early.ok()) << "granted a port with a TIME_WAIT on it";
  EXPECT_EQ(early.status().code(), absl::StatusCode::kResourceExhausted);
}

// A pool whose only port a foreign process listens on: RESOURCE_EXHAUSTED
// counts it, and the event log says foreign-busy with the port.
TEST(DaemonTest, ForeignListenerIsLoggedAndCounted) {
  ScratchDir dir;
  const LeasedPorts leased(1);
  absl::StatusOr<ForeignHolder> holder = ListenOnLoopback(leased.base());
  ASSERT_TRUE(holder.ok()) << holder.status();
  const Port port = holder->port;
  absl::StatusOr<DaemonProcess> daemon = StartDaemon(dir, port);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  ASSERT_TRUE(daemon->ready()) << daemon->Stderr();
  Client client(daemon->addresses()[0], testing::ScaledClientOptions());

  absl::StatusOr<v1::Lease> lease = AcquireOne(client, false);
  ASSERT_FALSE(lease.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(lease.status())) << lease.status();
  EXPECT_THAT(lease.status().message(),
              HasSubstr("1 bound by other processes (1 found just now)"));
  EXPECT_TRUE(testing::PollUntil(
      [&] {
        return daemon->Stderr().find(absl::StrCat("foreign-busy port=",
                                                  port)) != std::string::npos;
      },
      absl::Seconds(5)))
      << daemon->Stderr();

  ASSERT_TRUE(Release(&*holder).ok());
  absl::StatusOr<v1::Lease> granted =
      AcquireWithin(client, false, absl::Seconds(10));
  ASSERT_TRUE(granted.ok()) << granted.status();
  EXPECT_EQ(granted->base_port(), port);
}

}  // namespace
}  // namespace portlease::portsafety
