// The M2 TTS worker stand-in.
//
// The real worker serves gRPC on grpc.port. This stand-in only proves the
// port wiring: it listens on 127.0.0.1:<grpc.port> and answers a line
// protocol, "PING\n" -> "PONG worker\n" (anything else -> "ERR unknown
// command\n"), several lines per connection, one connection at a time.
#ifndef PORTLEASE_TESTS_M2_WORKER_H_
#define PORTLEASE_TESTS_M2_WORKER_H_

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/m2/config_file.h"

namespace portlease::m2 {

struct WorkerOptions {
  // grpc.port: where to listen on 127.0.0.1. 0 picks a free port.
  uint16_t port = 0;
  // redis.url: validated, not contacted (the real worker pulls jobs there).
  HostPort redis;
  // Bound on each read/write of a connection, and on an idle connection.
  absl::Duration io_timeout = absl::Seconds(2);
};

// Reads grpc.port and redis.url. NOT_FOUND / INVALID_ARGUMENT from Config
// and ParseHostPort.
absl::StatusOr<WorkerOptions> WorkerOptionsFromConfig(const Config& config);

// Listens, calls `on_ready(bound_port)` once, then serves until `stop_fd`
// becomes readable; returns OK then. UNAVAILABLE when the port cannot be
// bound. Runs on the calling thread.
absl::Status RunWorker(const WorkerOptions& options, int stop_fd,
                       const std::function<void(uint16_t)>& on_ready);

}  // namespace portlease::m2

#endif  // PORTLEASE_TESTS_M2_WORKER_H_
