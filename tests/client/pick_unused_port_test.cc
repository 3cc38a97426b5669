// portlease::PickUnusedPort against Google's own portserver
// (/usr/bin/portserver, Debian's python3-portpicker) on an abstract Unix
// socket of this test, serving a pool leased from the suite's server.
#include "portlease/pick_unused_port.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/poll_until.h"
#include "tests/support/test_ports.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

constexpr char kPortserver[] = "/usr/bin/portserver";

// "@portlease-test-PID-RANDOM": an abstract socket name no one else uses.
std::string UniqueAbstractAddress(absl::string_view what) {
  absl::BitGen random;
  return absl::StrCat("@portlease-test-", what, "-", getpid(), "-",
                      absl::Uniform<uint64_t>(random));
}

// Whether something accepts connections on the abstract socket `address`.
bool Accepts(const std::string& address) {
  sockaddr_un sun = {};
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path + 1, address.data() + 1, address.size() - 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const bool connected =
      connect(fd, reinterpret_cast<const sockaddr*>(&sun),
              static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                     address.size())) == 0;
  close(fd);
  return connected;
}

// A portserver child process on `address` managing `pool` ("A-B"), killed
// (SIGTERM) and reaped at destruction.
class Portserver {
 public:
  Portserver(const std::string& address, const std::string& pool) {
    pid_ = fork();
    if (pid_ == 0) {
      const std::string address_flag =
          absl::StrCat("--portserver_address=", address);
      const std::string pool_flag =
          absl::StrCat("--portserver_static_pool=", pool);
      execl(kPortserver, kPortserver, address_flag.c_str(), pool_flag.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~Portserver() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  bool started() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

TEST(PickUnusedPortTest, TakesDistinctPortsFromGooglesPortserver) {
  if (access(kPortserver, X_OK) != 0) {
    GTEST_SKIP() << kPortserver << " is missing: apt-get install "
                 << "python3-portpicker";
  }
  testing::LeasedPorts leased(4);
  const std::string address = UniqueAbstractAddress("portserver");
  Portserver server(address, leased.Range());
  ASSERT_TRUE(server.started());
  ASSERT_TRUE(testing::PollUntil([&] { return Accepts(address); },
                                 absl::Seconds(20)))
      << "portserver did not listen on " << address;

  std::set<uint16_t> picked;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<uint16_t> port = PickUnusedPort(address, getpid());
    ASSERT_TRUE(port.ok()) << port.status();
    EXPECT_GE(*port, leased.port(0));
    EXPECT_LE(*port, leased.port(3));
    picked.insert(*port);
  }
  // The environment's address, and this process's pid by default.
  ASSERT_EQ(setenv("PORTSERVER_ADDRESS", address.c_str(), 1), 0);
  absl::StatusOr<uint16_t> from_env = PickUnusedPort();
  unsetenv("PORTSERVER_ADDRESS");
  ASSERT_TRUE(from_env.ok()) << from_env.status();
  picked.insert(*from_env);
  EXPECT_EQ(picked.size(), 4u);  // distinct: the pool is used up

  absl::StatusOr<uint16_t> none = PickUnusedPort(address);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(none.status().message(),
              HasSubstr(absl::StrCat("portserver ", address,
                                     " had no port for pid ", getpid())));
}

TEST(PickUnusedPortTest, NoServerIsUnavailableNamingTheAddress) {
  const std::string abstract = UniqueAbstractAddress("nobody");
  absl::StatusOr<uint16_t> port = PickUnusedPort(abstract);
  EXPECT_EQ(port.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(port.status().message(),
              HasSubstr(absl::StrCat("portserver ", abstract,
                                     ": cannot connect: ")));

  const std::string path = "/nonexistent/portserver.sock";
  port = PickUnusedPort(path);
  EXPECT_EQ(port.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(port.status().message(), HasSubstr(path));
}

TEST(PickUnusedPortTest, NoAddressIsNotFound) {
  unsetenv("PORTSERVER_ADDRESS");
  absl::StatusOr<uint16_t> port = PickUnusedPort();
  EXPECT_EQ(port.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(port.status().message(), HasSubstr("PORTSERVER_ADDRESS"));
  EXPECT_EQ(PickUnusedPort(std::string(200, 'x')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace portlease
