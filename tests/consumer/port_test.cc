// A consumer's GoogleTest program whose cases each bind every port of
// their lease for a second, recording "NAME bind START END PORT..." in
// CONSUMER_OUT_DIR/<case>.rec (see bind_ports.py). Discovered with
// portlease_gtest_discover_tests: every case has a lease of its own.
// Plain.* is for a plain add_test() of the same program: it runs without
// a launcher and without a lease.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "portlease/gtest_environment.h"

namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void BindEveryPortForASecond() {
  const char* ports_env = std::getenv("PORTLEASE_PORTS");
  ASSERT_NE(ports_env, nullptr) << "no PORTLEASE_PORTS";
  const ::testing::TestInfo* info =
      ::testing::UnitTest::GetInstance()->current_test_info();
  const char* prefix = std::getenv("CONSUMER_RECORD_PREFIX");
  const std::string name = std::string(prefix ? prefix : "gtest.") +
                           info->test_suite_name() + "." + info->name();
  const int64_t start = NowNs();
  std::vector<int> fds;
  std::vector<int> ports;
  std::istringstream in(ports_env);
  for (int port; in >> port;) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0)
        << "port " << port << ": " << std::strerror(errno);
    ASSERT_EQ(listen(fd, 8), 0);
    fds.push_back(fd);
    ports.push_back(port);
  }
  ASSERT_FALSE(ports.empty());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const int64_t end = NowNs();
  for (int fd : fds) close(fd);
  std::ofstream out(std::string(CONSUMER_OUT_DIR) + "/" + name + ".rec",
                    std::ios::app);
  out << name << " bind " << start << " " << end;
  for (int port : ports) out << " " << port;
  out << "\n";
}

TEST(Binds, First) { BindEveryPortForASecond(); }
TEST(Binds, Second) { BindEveryPortForASecond(); }
TEST(Binds, Third) { BindEveryPortForASecond(); }
TEST(DISABLED_Binds, NeverRuns) { FAIL() << "a disabled test ran"; }

TEST(Plain, RunsWithoutLauncher) { SUCCEED(); }

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // Cases with a lease fail with a message when there is none.
  const char* plain = std::getenv("CONSUMER_PLAIN");
  if (plain == nullptr || std::string(plain) != "1") {
    ::testing::AddGlobalTestEnvironment(new portlease::LeaseEnvironment());
  }
  return RUN_ALL_TESTS();
}
