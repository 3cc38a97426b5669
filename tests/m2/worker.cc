#include "tests/m2/worker.h"

#include <string>

#include "absl/strings/strip.h"
#include "tests/m2/probes.h"
#include "tests/m2/socket_io.h"

namespace portlease::m2 {
namespace {

constexpr int kMaxLinesPerConnection = 64;

// Answers lines until the peer closes, goes idle, or sends too many.
void ServeConnection(int fd, absl::Duration io_timeout) {
  std::string buffer;
  for (int i = 0; i < kMaxLinesPerConnection; ++i) {
    size_t newline = buffer.find('\n');
    if (newline == std::string::npos) {
      absl::StatusOr<std::string> more =
          ReadUntil(fd, "\n", 4096, absl::Now() + io_timeout);
      if (!more.ok()) return;
      buffer += *more;
      newline = buffer.find('\n');
    }
    const std::string line(
        absl::StripTrailingAsciiWhitespace(buffer.substr(0, newline)));
    buffer.erase(0, newline + 1);
    const absl::string_view reply =
        line == "PING" ? kWorkerPong : "ERR unknown command\n";
    if (!WriteAll(fd, reply, absl::Now() + io_timeout).ok()) return;
  }
}

}  // namespace

absl::StatusOr<WorkerOptions> WorkerOptionsFromConfig(const Config& config) {
  WorkerOptions options;
  absl::StatusOr<uint16_t> port = config.GetPort("grpc.port");
  if (!port.ok()) return port.status();
  options.port = *port;
  absl::StatusOr<std::string> url = config.GetString("redis.url");
  if (!url.ok()) return url.status();
  absl::StatusOr<HostPort> redis = ParseHostPort(*url);
  if (!redis.ok()) return redis.status();
  options.redis = *redis;
  return options;
}

absl::Status RunWorker(const WorkerOptions& options, int stop_fd,
                       const std::function<void(uint16_t)>& on_ready) {
  absl::StatusOr<Fd> listener = ListenLoopback(options.port);
  if (!listener.ok()) return listener.status();
  absl::StatusOr<uint16_t> bound = LocalPort(listener->get());
  if (!bound.ok()) return bound.status();
  on_ready(*bound);
  for (;;) {
    absl::StatusOr<int> ready = WaitReadable({listener->get()}, stop_fd,
                                             absl::Now() + absl::Seconds(1));
    if (!ready.ok()) return ready.status();
    if (*ready == kWaitStopped) return absl::OkStatus();
    if (*ready == kWaitTimedOut) continue;
    absl::StatusOr<Fd> conn = Accept(listener->get());
    if (conn.ok()) ServeConnection(conn->get(), options.io_timeout);
  }
}

}  // namespace portlease::m2
