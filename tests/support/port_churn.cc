// port_churn: keeps the kernel's ephemeral port allocator busy, as other
// jobs on a CI host do, to show that the suite's ports do not depend on
// luck. Opens short TCP connections to a listener of its own on loopback
// (each takes an ephemeral port for its client end and leaves a TIME_WAIT
// behind) from several threads, at up to --rate a second (port pressure,
// not a CPU hog), for a bounded time, then prints how many it made.
//
//   port_churn --duration=10m --rate=2000 &
//   ctest --test-dir build-asan -R 'M2Stack|CrashLoop|collision'
//     --repeat until-fail:10     (one command line)
//   kill %1
//
// Loopback only; every loop is bounded by --duration (at most 24 h).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

ABSL_FLAG(absl::Duration, duration, absl::Minutes(1),
          "How long to churn (at most 24h).");
ABSL_FLAG(int, threads, 4, "Connecting threads (1..64).");
ABSL_FLAG(int, rate, 2000,
          "Connections a second, all threads together; 0: as fast as they "
          "can.");

namespace {

std::atomic<bool> g_stop{false};

void Stop(int) { g_stop.store(true); }

// One connection to 127.0.0.1:`port`, closed at once by the client (so
// the TIME_WAIT is on the client's ephemeral port). False on failure.
bool ConnectOnce(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok =
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Churns loopback ephemeral ports: short TCP connections from several "
      "threads for --duration.");
  absl::ParseCommandLine(argc, argv);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const int threads = absl::GetFlag(FLAGS_threads);
  const int rate = absl::GetFlag(FLAGS_rate);
  if (duration <= absl::ZeroDuration() || duration > absl::Hours(24) ||
      threads < 1 || threads > 64 || rate < 0) {
    std::fprintf(stderr,
                 "port_churn: --duration must be in (0, 24h], --threads in "
                 "1..64, --rate >= 0\n");
    return 2;
  }
  // Each thread paces itself to rate/threads connections a second.
  const absl::Duration interval =
      rate > 0 ? absl::Seconds(1) * threads / rate : absl::ZeroDuration();
  signal(SIGINT, Stop);
  signal(SIGTERM, Stop);

  // The listener: in this process, on a port the kernel picks, kept open.
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (listener < 0 ||
      bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listener, 4096) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::fprintf(stderr, "port_churn: listener: %s\n", std::strerror(errno));
    return 1;
  }
  const uint16_t port = ntohs(addr.sin_port);

  const absl::Time end = absl::Now() + duration;
  std::atomic<int64_t> made{0}, failed{0};
  std::thread acceptor([&] {
    while (!g_stop.load() && absl::Now() < end) {
      const int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) close(fd);
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      absl::Time next = absl::Now();
      while (!g_stop.load() && absl::Now() < end) {
        if (interval > absl::ZeroDuration()) {
          next += interval;
          const absl::Duration ahead = next - absl::Now();
          if (ahead > absl::ZeroDuration()) absl::SleepFor(ahead);
        }
        if (ConnectOnce(port)) {
          made.fetch_add(1);
        } else {
          failed.fetch_add(1);
          absl::SleepFor(absl::Milliseconds(1));  // e.g. ports exhausted
        }
      }
    });
  }
  const absl::Time began = absl::Now();
  for (std::thread& w : workers) w.join();
  g_stop.store(true);
  ConnectOnce(port);  // wakes the acceptor
  acceptor.join();
  close(listener);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - began);
  std::printf("port_churn: %lld connections (%.0f/s), %lld failed, %.0f s\n",
              static_cast<long long>(made.load()),
              seconds > 0 ? made.load() / seconds : 0.0,
              static_cast<long long>(failed.load()), seconds);
  return 0;
}
