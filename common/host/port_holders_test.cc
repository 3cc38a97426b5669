#include "common/host/port_holders.h"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "common/host/docker_proxy.h"
#include "common/host/host_test_util.h"
#include "testing/temp_dir.h"

extern char** environ;

namespace portlease {
namespace {

using ::testing::IsEmpty;
using testing_util::LocalPort;
using testing_util::OpenSocket;
using testing_util::ScopedFd;
using testing_util::SocketInode;
using testing_util::WriteFixture;

constexpr char kListener[] = HOST_TEST_LISTENER_PATH;

std::string MyUserName() {
  char buffer[16384];
  passwd entry;
  passwd* result = nullptr;
  if (getpwuid_r(getuid(), &entry, buffer, sizeof(buffer), &result) != 0 ||
      result == nullptr) {
    return absl::StrCat(getuid());
  }
  return result->pw_name;
}

// A host_test_listener child: started with `args`, killed and reaped on
// destruction. Only this pid is ever signalled.
class ListenerProcess {
 public:
  // `argv0`: the name the child runs under, kListener by default.
  explicit ListenerProcess(std::vector<std::string> args,
                           std::string argv0 = kListener)
      : args_(std::move(args)), argv0_(std::move(argv0)) {}
  ~ListenerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int status = 0;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }

  // Starts the child and reads the port it prints, within 10 seconds.
  ::testing::AssertionResult Start() {
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
      return ::testing::AssertionFailure() << "pipe2";
    }
    ScopedFd read_end(pipe_fds[0]);
    ScopedFd write_end(pipe_fds[1]);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
    std::vector<std::string> argv_strings = {argv0_};
    argv_strings.insert(argv_strings.end(), args_.begin(), args_.end());
    std::vector<char*> argv;
    for (std::string& arg : argv_strings) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int rc =
        posix_spawn(&pid, kListener, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return ::testing::AssertionFailure() << "posix_spawn " << rc;
    pid_ = pid;
    write_end.reset();

    std::string line;
    char c = 0;
    while (line.size() < 16) {
      pollfd waiter = {read_end.get(), POLLIN, 0};
      if (poll(&waiter, 1, 10000) != 1) {
        return ::testing::AssertionFailure() << "no port from the listener";
      }
      if (read(read_end.get(), &c, 1) != 1) {
        return ::testing::AssertionFailure() << "listener exited";
      }
      if (c == '\n') break;
      line.push_back(c);
    }
    uint32_t port = 0;
    if (!absl::SimpleAtoi(line, &port) || port == 0 || port > 65535) {
      return ::testing::AssertionFailure() << "bad port \"" << line << "\"";
    }
    port_ = static_cast<Port>(port);
    return ::testing::AssertionSuccess();
  }

  int64_t pid() const { return pid_; }
  Port port() const { return port_; }
  std::string command() const {
    return absl::StrCat(argv0_, " ", absl::StrJoin(args_, " "));
  }

 private:
  std::vector<std::string> args_;
  std::string argv0_;
  pid_t pid_ = 0;
  Port port_ = 0;
};

TEST(PortHoldersTest, FindsAChildListener) {
  ListenerProcess child({"0"});
  ASSERT_TRUE(child.Start());
  absl::StatusOr<std::vector<PortHolder>> holders =
      FindPortHolders({child.port()});
  ASSERT_TRUE(holders.ok()) << holders.status();
  ASSERT_EQ(holders->size(), 1u);
  const PortHolder& holder = (*holders)[0];
  EXPECT_EQ(holder.socket.protocol, SocketProtocol::kTcp);
  EXPECT_EQ(holder.socket.family, IpFamily::kV4);
  EXPECT_EQ(holder.socket.local_address, "127.0.0.1");
  EXPECT_EQ(holder.socket.local_port, child.port());
  EXPECT_EQ(holder.socket.state, "LISTEN");
  EXPECT_EQ(holder.user, MyUserName());
  EXPECT_FALSE(holder.holders_hidden);
  EXPECT_THAT(holder.processes, ::testing::ElementsAre(HolderProcess{
                                    child.pid(), child.command()}));
}

// Docker's userland proxy, as its process shows: the container it
// publishes for comes from its arguments.
TEST(PortHoldersTest, DockersProxyIsRecognisedByItsCommandLine) {
  ListenerProcess child({"0", "--", "-proto", "tcp", "-host-ip", "127.0.0.1",
                         "-container-ip", "172.17.0.9", "-container-port",
                         "6379"},
                        "/usr/bin/docker-proxy");
  ASSERT_TRUE(child.Start());
  absl::StatusOr<std::vector<PortHolder>> holders =
      FindPortHolders({child.port()});
  ASSERT_TRUE(holders.ok()) << holders.status();
  ASSERT_EQ(holders->size(), 1u);
  ASSERT_EQ((*holders)[0].processes.size(), 1u);
  const std::string& command = (*holders)[0].processes[0].command;
  EXPECT_EQ(command, child.command());
  std::optional<DockerProxy> proxy = ParseDockerProxy(command);
  ASSERT_TRUE(proxy.has_value());
  EXPECT_EQ(proxy->ContainerAddress(), "172.17.0.9:6379");
}

TEST(PortHoldersTest, FindsAUdpChildOnlyWhenUdpIsAsked) {
  ListenerProcess child({"--udp", "0"});
  ASSERT_TRUE(child.Start());
  absl::StatusOr<std::vector<PortHolder>> tcp_only =
      FindPortHolders({child.port()}, {.udp = false});
  ASSERT_TRUE(tcp_only.ok()) << tcp_only.status();
  for (const PortHolder& holder : *tcp_only) {
    EXPECT_NE(holder.processes.empty() ? 0 : holder.processes[0].pid,
              child.pid());
  }
  absl::StatusOr<std::vector<PortHolder>> holders =
      FindPortHolders({child.port()});
  ASSERT_TRUE(holders.ok()) << holders.status();
  bool found = false;
  for (const PortHolder& holder : *holders) {
    if (holder.socket.protocol != SocketProtocol::kUdp) continue;
    found = true;
    EXPECT_EQ(holder.socket.state, "UNCONN");
    ASSERT_EQ(holder.processes.size(), 1u);
    EXPECT_EQ(holder.processes[0].pid, child.pid());
    EXPECT_EQ(holder.processes[0].command, child.command());
  }
  EXPECT_TRUE(found);
}

TEST(PortHoldersTest, FindsThisProcessAndIgnoresOtherPorts) {
  absl::StatusOr<ScopedFd> listener =
      OpenSocket({.type = SOCK_STREAM, .address = "127.0.0.1", .listen = true});
  ASSERT_TRUE(listener.ok()) << listener.status();
  const Port port = LocalPort(listener->get());
  absl::StatusOr<std::vector<PortHolder>> holders = FindPortHolders({port});
  ASSERT_TRUE(holders.ok()) << holders.status();
  ASSERT_EQ(holders->size(), 1u);
  EXPECT_EQ((*holders)[0].socket.inode, SocketInode(listener->get()));
  ASSERT_EQ((*holders)[0].processes.size(), 1u);
  EXPECT_EQ((*holders)[0].processes[0].pid, getpid());

  absl::StatusOr<std::vector<PortHolder>> none = FindPortHolders({});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_THAT(*none, IsEmpty());
}

class PortHoldersFixtureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if constexpr (std::endian::native != std::endian::little) {
      GTEST_SKIP() << "fixtures are in little-endian kernel format";
    }
    root_ = temp_.path();
    // Port 8080: a listener (inode 9001) owned by pid 123 and its fork 77,
    // a TIME_WAIT, and a listener (inode 9002) whose process is invisible.
    ASSERT_TRUE(WriteFixture(
        root_, "net/tcp",
        "  sl  local_address rem_address   st\n"
        "   0: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 9001 1 0\n"
        "   1: 0100007F:1F90 0100007F:D431 06 0:0 0:0 0 0 0 0 3 0\n"
        "   2: 00000000:1F91 00000000:0000 0A 0:0 0:0 0 4242 0 9002 1 0\n"
        "   3: 00000000:0016 00000000:0000 0A 0:0 0:0 0 0 0 9003 1 0\n"));
    ASSERT_TRUE(WriteFixture(root_, "123/cmdline",
                             absl::string_view("srv\0-p\0"
                                               "8080\0",
                                               12)));
    ASSERT_TRUE(WriteFixture(root_, "77/cmdline", ""));
    ASSERT_TRUE(WriteFixture(root_, "77/comm", "kworker\n"));
    ASSERT_TRUE(WriteFixture(root_, "self/cmdline", "ignored"));
    Link("123/fd/0", "/dev/null");
    Link("123/fd/3", "socket:[9001]");
    Link("123/fd/4", "socket:[9003]");
    Link("77/fd/5", "socket:[9001]");
    Link("self/fd/5", "socket:[9002]");
  }

  void Link(const std::string& relative, const std::string& target) {
    ASSERT_TRUE(WriteFixture(root_, relative, ""));
    const std::string path = absl::StrCat(root_, "/", relative);
    ASSERT_EQ(unlink(path.c_str()), 0);
    ASSERT_EQ(symlink(target.c_str(), path.c_str()), 0);
  }

  testing::TempDir temp_;
  std::string root_;
};

TEST_F(PortHoldersFixtureTest, MatchesInodesToProcesses) {
  absl::StatusOr<std::vector<PortHolder>> holders =
      FindPortHolders({8080, 8081}, {.proc_root = root_});
  ASSERT_TRUE(holders.ok()) << holders.status();
  ASSERT_EQ(holders->size(), 3u);

  const PortHolder& listener = (*holders)[0];
  EXPECT_EQ(listener.socket.state, "LISTEN");
  EXPECT_EQ(listener.user, "root");
  EXPECT_FALSE(listener.holders_hidden);
  EXPECT_THAT(listener.processes,
              ::testing::ElementsAre(HolderProcess{77, "[kworker]"},
                                     HolderProcess{123, "srv -p 8080"}));

  const PortHolder& time_wait = (*holders)[1];
  EXPECT_EQ(time_wait.socket.state, "TIME_WAIT");
  EXPECT_FALSE(time_wait.holders_hidden);
  EXPECT_THAT(time_wait.processes, IsEmpty());

  const PortHolder& hidden = (*holders)[2];
  EXPECT_EQ(hidden.socket.local_port, 8081);
  EXPECT_EQ(hidden.socket.local_address, "0.0.0.0");
  EXPECT_TRUE(hidden.holders_hidden);
  EXPECT_THAT(hidden.processes, IsEmpty());
  EXPECT_EQ(hidden.socket.uid, 4242u);
  EXPECT_FALSE(hidden.user.empty());
}

TEST_F(PortHoldersFixtureTest, RootWithoutTablesHasNoHolders) {
  absl::StatusOr<std::vector<PortHolder>> holders =
      FindPortHolders({8080}, {.proc_root = root_ + "/absent"});
  ASSERT_TRUE(holders.ok()) << holders.status();
  EXPECT_THAT(*holders, IsEmpty());
}

}  // namespace
}  // namespace portlease
