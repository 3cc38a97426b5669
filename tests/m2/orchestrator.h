// The M2 orchestrator stand-in.
//
// Reads the same rendered orchestrator.yaml as the real orchestrator and
// listens on 127.0.0.1 on three ports:
//   server.ws_port      a WebSocket endpoint: completes the RFC 6455
//                       handshake for an Upgrade request, echoes one
//                       text/binary message, then closes (1000). Any other
//                       HTTP request gets "426 Upgrade Required".
//   server.health_port  GET /healthz: 200 "ok" when Redis (redis.url, RESP
//                       PING) and the worker (routing.static_worker_addr,
//                       line PING) answer; else 503 with the reasons.
//   metrics.port        GET /metrics: Prometheus text format
//                       (m2_orchestrator_up 1, request counters).
// Before listening it waits (bounded by startup_timeout) for Redis and the
// worker to answer, and fails when they do not.
//
// One connection at a time on one thread: a stand-in, not a server.
#ifndef PORTLEASE_TESTS_M2_ORCHESTRATOR_H_
#define PORTLEASE_TESTS_M2_ORCHESTRATOR_H_

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/m2/config_file.h"

namespace portlease::m2 {

struct OrchestratorOptions {
  HostPort redis;   // redis.url
  HostPort worker;  // routing.static_worker_addr
  // Listening ports on 127.0.0.1; 0 picks a free port.
  uint16_t ws_port = 0;       // server.ws_port
  uint16_t health_port = 0;   // server.health_port
  uint16_t metrics_port = 0;  // metrics.port
  // How long startup waits for Redis and the worker to answer.
  absl::Duration startup_timeout = absl::Seconds(5);
  // Bound on one dependency probe (connect + PING + reply).
  absl::Duration probe_timeout = absl::Milliseconds(500);
  // Bound on reading a request / writing a response.
  absl::Duration io_timeout = absl::Seconds(2);
};

// The ports actually bound.
struct OrchestratorPorts {
  uint16_t ws = 0;
  uint16_t health = 0;
  uint16_t metrics = 0;
};

// Reads the keys above. NOT_FOUND / INVALID_ARGUMENT from Config and
// ParseHostPort.
absl::StatusOr<OrchestratorOptions> OrchestratorOptionsFromConfig(
    const Config& config);

// Waits for the dependencies, listens, calls `on_ready` once, then serves
// until `stop_fd` becomes readable; returns OK then. FAILED_PRECONDITION
// naming the unreachable dependency when startup times out; CANCELLED when
// stopped during startup; UNAVAILABLE when a port cannot be bound.
// Runs on the calling thread.
absl::Status RunOrchestrator(
    const OrchestratorOptions& options, int stop_fd,
    const std::function<void(const OrchestratorPorts&)>& on_ready);

}  // namespace portlease::m2

#endif  // PORTLEASE_TESTS_M2_ORCHESTRATOR_H_
