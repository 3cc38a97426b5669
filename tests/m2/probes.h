// Reachability probes the orchestrator stand-in runs against its
// dependencies: Redis (RESP PING) and the worker stand-in (line PING).
#ifndef PORTLEASE_TESTS_M2_PROBES_H_
#define PORTLEASE_TESTS_M2_PROBES_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tests/m2/config_file.h"

namespace portlease::m2 {

// The worker stand-in's line protocol: "PING\n" -> kWorkerPong.
inline constexpr absl::string_view kWorkerPong = "PONG worker\n";

// Sends RESP "PING" to the Redis server at `address` and expects "+PONG".
// OK, or UNAVAILABLE / DEADLINE_EXCEEDED with a message naming "redis at
// host:port" and the cause (refused, timed out, unexpected reply). The whole
// exchange is bounded by `timeout`.
absl::Status PingRedis(const HostPort& address, absl::Duration timeout);

// Sends "PING\n" to the worker stand-in at `address` and expects
// kWorkerPong. Errors as PingRedis, naming "worker at host:port".
absl::Status PingWorker(const HostPort& address, absl::Duration timeout);

}  // namespace portlease::m2

#endif  // PORTLEASE_TESTS_M2_PROBES_H_
