// with-test-ports: runs a test script with a pool of ports leased from the
// suite's portleased (tests/support/test_ports.h), for scripts that start
// a portleased of their own or bind ports themselves.
//
//   with-test-ports --ports 256 -- tests/bench/collision_check.sh ...
//
// Leases ceil(N/64) blocks (a lease holds at most 64 ports), exports
// PORTLEASE_TEST_POOL (the blocks in portleased's --pool syntax,
// "a-b,c-d"), runs the command, forwards SIGINT/SIGTERM/SIGHUP to it,
// releases the leases when it ends and exits with its status (128+signal
// when it was killed). Exit 2 for a usage error, 1 when the ports cannot
// be leased.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/support/test_ports.h"

extern char** environ;

namespace {

constexpr uint32_t kMaxPerLease = 64;
constexpr uint32_t kMaxPorts = 4096;

volatile sig_atomic_t g_child = 0;

void Forward(int signal) {
  if (g_child > 0) kill(g_child, signal);
}

int Usage(const char* why) {
  std::fprintf(stderr,
               "with-test-ports: %s\n"
               "usage: with-test-ports --ports N -- COMMAND [ARG...]\n"
               "  Leases N ports (1..%u, in blocks of at most %u) from the "
               "test suite's\n  portleased ($PORTLEASE_TEST_ADDR or the "
               "build's fixture address), runs\n  COMMAND with "
               "PORTLEASE_TEST_POOL=a-b,c-d and releases them when it "
               "ends.\n",
               why, kMaxPorts, kMaxPerLease);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  uint32_t wanted = 0;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg == "-h" || arg == "--help") {
      Usage("help");
      return 0;
    }
    if (arg == "--ports" && i + 1 < argc) {
      if (!absl::SimpleAtoi(argv[++i], &wanted)) return Usage("bad --ports");
      continue;
    }
    return Usage(absl::StrCat("unknown argument '", arg, "'").c_str());
  }
  if (wanted == 0 || wanted > kMaxPorts) return Usage("--ports must be 1..4096");
  if (i >= argc) return Usage("no command after --");

  std::vector<portlease::testing::LeasedPorts> blocks;
  std::vector<std::string> ranges;
  for (uint32_t left = wanted; left > 0;) {
    const uint32_t n = left < kMaxPerLease ? left : kMaxPerLease;
    absl::StatusOr<portlease::testing::LeasedPorts> block =
        portlease::testing::LeasedPorts::Acquire(n);
    if (!block.ok()) {
      std::fprintf(stderr, "with-test-ports: %s\n",
                   std::string(block.status().message()).c_str());
      return 1;
    }
    ranges.push_back(block->Range());
    blocks.push_back(*std::move(block));
    left -= n;
  }
  const std::string pool = absl::StrJoin(ranges, ",");
  setenv("PORTLEASE_TEST_POOL", pool.c_str(), 1);

  struct sigaction action = {};
  action.sa_handler = Forward;
  sigemptyset(&action.sa_mask);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaction(s, &action, nullptr);

  pid_t pid = 0;
  const int spawned =
      posix_spawnp(&pid, argv[i], nullptr, nullptr, argv + i, environ);
  if (spawned != 0) {
    std::fprintf(stderr, "with-test-ports: cannot run %s: %s\n", argv[i],
                 std::strerror(spawned));
    return spawned == ENOENT ? 127 : 126;
  }
  g_child = pid;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  g_child = 0;
  blocks.clear();  // releases every lease before exiting
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}
