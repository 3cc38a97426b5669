#include "server/portserver/portserver_server.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/portserver/test_manager.h"
#include "testing/poll_until.h"
#include "testing/temp_dir.h"

namespace portlease {
namespace {

// Connects to `address` ("@NAME" or a path); -1 on failure.
int Connect(const std::string& address) {
  sockaddr_un addr;
  std::memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  socklen_t length = sizeof(addr);
  if (address[0] == '@') {
    std::memcpy(addr.sun_path + 1, address.data() + 1, address.size() - 1);
    length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                    address.size());
  } else {
    std::memcpy(addr.sun_path, address.data(), address.size());
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), length) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Everything the server answers until it closes.
std::string ReadAll(int fd) {
  std::string out;
  char buffer[256];
  ssize_t got;
  while ((got = read(fd, buffer, sizeof(buffer))) > 0) out.append(buffer, got);
  return out;
}

// What portpicker does: send "PID\n", read the answer.
std::string Ask(const std::string& address, const std::string& request) {
  const int fd = Connect(address);
  if (fd < 0) return "<no connection>";
  if (write(fd, request.data(), request.size()) < 0) return "<write>";
  std::string answer = ReadAll(fd);
  close(fd);
  return answer;
}

class PortserverServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    abstract_ = absl::StrCat("@portlease-test-", getpid(), "-",
                             ::testing::UnitTest::GetInstance()
                                 ->current_test_info()
                                 ->name());
    path_ = dir_.File("portserver.sock");
  }

  void Start(PortserverServerOptions options = {}) {
    options.listen = {abstract_, path_};
    options.leases.manager = manager_.get();
    options.leases.processes = &processes_;
    options.check_interval = absl::Milliseconds(20);
    absl::StatusOr<std::unique_ptr<PortserverServer>> server =
        PortserverServer::Start(std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  size_t LiveLeases() { return manager_.get()->List({}).size(); }

  testing::TempDir dir_;
  TestManager manager_{dir_.File("leases.db")};
  ProcProcessTable processes_;
  std::string abstract_;
  std::string path_;
  std::unique_ptr<PortserverServer> server_;
};

TEST_F(PortserverServerTest, AnswersAPortAndANewlineOnBothAddresses) {
  Start();
  EXPECT_EQ(server_->addresses(),
            (std::vector<std::string>{abstract_, path_}));
  for (const std::string& address : {abstract_, path_}) {
    const std::string answer = Ask(address, absl::StrCat(getpid(), "\n"));
    ASSERT_FALSE(answer.empty()) << address;
    EXPECT_EQ(answer.back(), '\n');
    const int port = std::stoi(answer);
    EXPECT_GE(port, 31000);
    EXPECT_LE(port, 31199);
  }
  std::vector<LeaseRecord> leases = manager_.get()->List({});
  ASSERT_EQ(leases.size(), 2u);
  EXPECT_EQ(leases[0].owner.at("pid"), absl::StrCat(getpid()));
  EXPECT_EQ(leases[0].owner.at("peer_uid"), absl::StrCat(getuid()));
  EXPECT_EQ(leases[0].owner.at("client"), "portserver");
}

TEST_F(PortserverServerTest, RefusalsCloseWithoutData) {
  std::atomic<int> refused{0};
  PortserverServerOptions options;
  options.on_refused = [&refused](const absl::Status&) { ++refused; };
  Start(std::move(options));
  // A pid that no process has: pid_max is at most 2^22.
  for (const char* request : {"x\n", "0\n", "1\n", "4194304999\n",
                              "123456789012345678901234\n"}) {
    EXPECT_EQ(Ask(abstract_, request), "") << request;
  }
  EXPECT_EQ(refused.load(), 5);
  EXPECT_EQ(LiveLeases(), 0u);
}

TEST_F(PortserverServerTest, TheLeaseEndsWhenTheProcessExits) {
  Start();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pause();
    _exit(0);
  }
  EXPECT_NE(Ask(path_, absl::StrCat(child, "\n")), "");
  EXPECT_EQ(LiveLeases(), 1u);
  ASSERT_EQ(kill(child, SIGKILL), 0);
  // Ended once it is a zombie, before it is reaped.
  EXPECT_TRUE(testing::PollUntil([&] { return LiveLeases() == 0; },
                                 absl::Seconds(10)));
  waitpid(child, nullptr, 0);
}

TEST_F(PortserverServerTest, AnotherUsersProcessIsRefused) {
  if (getuid() != 0) GTEST_SKIP() << "needs root to run a child as nobody";
  Start();
  // A child as nobody asks for this (root's) process: refused. The
  // abstract address has no file permissions to stop it from connecting.
  const std::string request = absl::StrCat(getpid(), "\n");
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
    const std::string answer = Ask(abstract_, request);
    _exit(answer.empty() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(LiveLeases(), 0u);
}

TEST_F(PortserverServerTest, ASilentClientHoldsNobodyUp) {
  PortserverServerOptions options;
  options.workers = 1;
  options.read_timeout = absl::Milliseconds(300);
  Start(std::move(options));
  const int silent = Connect(abstract_);
  ASSERT_GE(silent, 0);
  const absl::Time start = absl::Now();
  EXPECT_NE(Ask(abstract_, absl::StrCat(getpid(), "\n")), "");
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(ReadAll(silent), "");  // dropped at the read timeout
  close(silent);
}

TEST_F(PortserverServerTest, ServesSixtyFourClientsAtOnce) {
  Start();
  std::vector<std::string> answers(64);
  std::vector<std::thread> clients;
  for (int i = 0; i < 64; ++i) {
    clients.emplace_back([&, i] {
      answers[i] = Ask(i % 2 == 0 ? abstract_ : path_,
                       absl::StrCat(getpid(), "\n"));
    });
  }
  for (std::thread& client : clients) client.join();
  std::set<std::string> distinct(answers.begin(), answers.end());
  EXPECT_EQ(distinct.size(), 64u);
  EXPECT_EQ(distinct.count(""), 0u);
  EXPECT_EQ(LiveLeases(), 64u);
}

TEST(PortserverServerConcurrencyTest, EachClientGetsItsOwnLease) {
  testing::TempDir dir;
  TestManager manager(dir.File("leases.db"));
  FakeProcessTable processes;
  for (pid_t pid = 1000; pid < 1064; ++pid) {
    processes.Set(FakeProcess(pid, 7, getuid()));
  }
  PortserverServerOptions options;
  const std::string address =
      absl::StrCat("@portlease-test-", getpid(), "-own");
  options.listen = {address};
  options.leases.manager = manager.get();
  options.leases.processes = &processes;
  absl::StatusOr<std::unique_ptr<PortserverServer>> server =
      PortserverServer::Start(std::move(options));
  ASSERT_TRUE(server.ok()) << server.status();
  for (int round = 0; round < 5; ++round) {
    std::vector<std::string> answers(64);
    std::vector<std::thread> clients;
    for (int i = 0; i < 64; ++i) {
      clients.emplace_back([&, i] {
        answers[i] = Ask(address, absl::StrCat(1000 + i, "\n"));
      });
    }
    for (std::thread& client : clients) client.join();
    std::map<Port, std::string> pid_by_port;
    for (const LeaseRecord& lease : manager.get()->List({})) {
      pid_by_port[lease.base] = lease.owner.at("pid");
    }
    for (int i = 0; i < 64; ++i) {
      ASSERT_FALSE(answers[i].empty()) << i;
      EXPECT_EQ(pid_by_port[static_cast<Port>(std::stoi(answers[i]))],
                absl::StrCat(1000 + i))
          << "round " << round << " client " << i;
    }
    for (const LeaseRecord& lease : manager.get()->List({})) {
      ASSERT_TRUE(manager.get()->Release(lease.id, {lease.caller, ""}).ok());
    }
  }
}

TEST_F(PortserverServerTest, AnAbstractAddressInUseIsSkipped) {
  Start();
  PortserverServerOptions options;
  options.listen = {abstract_};
  options.leases.manager = manager_.get();
  options.leases.processes = &processes_;
  absl::StatusOr<std::unique_ptr<PortserverServer>> second =
      PortserverServer::Start(std::move(options));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE((*second)->addresses().empty());
  EXPECT_EQ((*second)->skipped(), std::vector<std::string>{abstract_});
}

TEST_F(PortserverServerTest, StopRemovesThePathSocket) {
  Start();
  EXPECT_EQ(access(path_.c_str(), F_OK), 0);
  server_->Stop();
  EXPECT_NE(access(path_.c_str(), F_OK), 0);
  EXPECT_EQ(Connect(abstract_), -1);
}

TEST(PortserverAddressTest, ChecksTheForm) {
  EXPECT_TRUE(CheckPortserverAddress("@x").ok());
  EXPECT_TRUE(CheckPortserverAddress("/run/x.sock").ok());
  EXPECT_FALSE(CheckPortserverAddress("").ok());
  EXPECT_FALSE(CheckPortserverAddress("@").ok());
  EXPECT_FALSE(CheckPortserverAddress(std::string(108, 'a')).ok());
}

}  // namespace
}  // namespace portlease
