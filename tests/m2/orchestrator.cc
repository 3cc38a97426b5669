#include "tests/m2/orchestrator.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/m2/http.h"
#include "tests/m2/probes.h"
#include "tests/m2/socket_io.h"

namespace portlease::m2 {
namespace {

constexpr size_t kMaxRequestHead = 16 * 1024;
constexpr size_t kMaxFramePayload = 64 * 1024;
constexpr absl::string_view kText = "text/plain; charset=utf-8";

// Request counters for /metrics. Only touched by the serving thread.
struct Counters {
  int64_t health_ok = 0;
  int64_t health_fail = 0;
  int64_t ws_upgrades = 0;
  int64_t ws_rejected = 0;
  int64_t metrics_scrapes = 0;
};

// Both probes; the failures joined, or OK.
absl::Status CheckDependencies(const OrchestratorOptions& options) {
  std::vector<std::string> failures;
  if (absl::Status st = PingRedis(options.redis, options.probe_timeout);
      !st.ok()) {
    failures.push_back(std::string(st.message()));
  }
  if (absl::Status st = PingWorker(options.worker, options.probe_timeout);
      !st.ok()) {
    failures.push_back(std::string(st.message()));
  }
  if (failures.empty()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrJoin(failures, "; "));
}

// Retries CheckDependencies until it passes, the stop fd fires or the
// startup timeout passes.
absl::Status AwaitDependencies(const OrchestratorOptions& options,
                               int stop_fd) {
  const absl::Time deadline = absl::Now() + options.startup_timeout;
  for (;;) {
    absl::Status st = CheckDependencies(options);
    if (st.ok()) return st;
    if (absl::Now() >= deadline) {
      return absl::FailedPreconditionError(absl::StrCat(
          "dependencies unreachable after ",
          absl::FormatDuration(options.startup_timeout), ": ", st.message()));
    }
    absl::StatusOr<int> waited = WaitReadable(
        {}, stop_fd, std::min(deadline, absl::Now() + absl::Milliseconds(100)));
    if (!waited.ok()) return waited.status();
    if (*waited == kWaitStopped) {
      return absl::CancelledError("stopped while waiting for dependencies");
    }
  }
}

// Reads one request head; bytes after it go to `*rest`. INVALID_ARGUMENT for
// a malformed head, other errors when the client is slow or gone.
absl::StatusOr<HttpRequest> ReadRequest(int fd, absl::Time deadline,
                                        std::string* rest) {
  absl::StatusOr<std::string> head =
      ReadUntil(fd, "\r\n\r\n", kMaxRequestHead, deadline);
  if (!head.ok()) return head.status();
  const size_t end = head->find("\r\n\r\n") + 4;
  *rest = head->substr(end);
  return ParseRequestHead(head->substr(0, end));
}

void Reply(int fd, absl::Time deadline, int code, absl::string_view reason,
           absl::string_view content_type, absl::string_view body) {
  // The client may be gone; nothing to do about it.
  (void)WriteAll(fd, FormatResponse(code, reason, content_type, body),
                 deadline);
}

// Echoes one data frame after the handshake, then closes with 1000.
void ServeWebSocket(int fd, const HttpRequest& request, std::string pending,
                    absl::Time deadline) {
  const std::string key = request.Header("sec-websocket-key");
  if (key.empty()) {
    Reply(fd, deadline, 400, "Bad Request", kText,
          "missing Sec-WebSocket-Key\n");
    return;
  }
  const std::string handshake = absl::StrCat(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Accept: ",
      WebSocketAccept(key), "\r\n\r\n");
  if (!WriteAll(fd, handshake, deadline).ok()) return;
  for (;;) {
    size_t consumed = 0;
    absl::StatusOr<WebSocketFrame> frame =
        DecodeFrame(pending, kMaxFramePayload, &consumed);
    if (absl::IsOutOfRange(frame.status())) {
      absl::StatusOr<std::string> more =
          ReadExactly(fd, 1, deadline);  // At least one more byte.
      if (!more.ok()) return;
      pending += *more;
      continue;
    }
    if (!frame.ok()) break;
    pending.erase(0, consumed);
    if (frame->opcode == 1 || frame->opcode == 2) {
      (void)WriteAll(fd, EncodeFrame({true, frame->opcode, frame->payload}),
                     deadline);
      break;
    }
    if (frame->opcode == 8) break;
  }
  // Close frame, status 1000 (normal closure).
  (void)WriteAll(fd, EncodeFrame({true, 8, std::string("\x03\xe8", 2)}),
                 deadline);
}

std::string MetricsText(const Counters& c) {
  return absl::StrCat(
      "# HELP m2_orchestrator_up Whether the orchestrator stand-in is "
      "serving.\n# TYPE m2_orchestrator_up gauge\nm2_orchestrator_up 1\n"
      "# HELP m2_orchestrator_health_checks_total Health checks by result.\n"
      "# TYPE m2_orchestrator_health_checks_total counter\n"
      "m2_orchestrator_health_checks_total{result=\"ok\"} ",
      c.health_ok, "\nm2_orchestrator_health_checks_total{result=\"fail\"} ",
      c.health_fail,
      "\n# HELP m2_orchestrator_ws_connections_total WebSocket requests by "
      "result.\n# TYPE m2_orchestrator_ws_connections_total counter\n"
      "m2_orchestrator_ws_connections_total{result=\"upgraded\"} ",
      c.ws_upgrades,
      "\nm2_orchestrator_ws_connections_total{result=\"rejected\"} ",
      c.ws_rejected,
      "\n# HELP m2_orchestrator_metrics_scrapes_total Scrapes of /metrics.\n"
      "# TYPE m2_orchestrator_metrics_scrapes_total counter\n"
      "m2_orchestrator_metrics_scrapes_total ",
      c.metrics_scrapes, "\n");
}

enum class Endpoint { kWebSocket = 0, kHealth = 1, kMetrics = 2 };

void ServeConnection(Endpoint endpoint, int fd,
                     const OrchestratorOptions& options, Counters& counters) {
  const absl::Time deadline = absl::Now() + options.io_timeout;
  std::string rest;
  absl::StatusOr<HttpRequest> request = ReadRequest(fd, deadline, &rest);
  if (!request.ok()) {
    if (absl::IsInvalidArgument(request.status())) {
      Reply(fd, deadline, 400, "Bad Request", kText,
            absl::StrCat(request.status().message(), "\n"));
    }
    return;
  }
  switch (endpoint) {
    case Endpoint::kWebSocket:
      if (request->method == "GET" && request->IsWebSocketUpgrade()) {
        ++counters.ws_upgrades;
        ServeWebSocket(fd, *request, std::move(rest), deadline);
      } else {
        ++counters.ws_rejected;
        Reply(fd, deadline, 426, "Upgrade Required", kText,
              "this port speaks WebSocket\n");
      }
      return;
    case Endpoint::kHealth: {
      if (request->method != "GET" || request->target != "/healthz") {
        Reply(fd, deadline, 404, "Not Found", kText, "try GET /healthz\n");
        return;
      }
      absl::Status st = CheckDependencies(options);
      if (st.ok()) {
        ++counters.health_ok;
        Reply(fd, deadline, 200, "OK", kText, "ok\n");
      } else {
        ++counters.health_fail;
        Reply(fd, deadline, 503, "Service Unavailable", kText,
              absl::StrCat(st.message(), "\n"));
      }
      return;
    }
    case Endpoint::kMetrics:
      if (request->method != "GET" || request->target != "/metrics") {
        Reply(fd, deadline, 404, "Not Found", kText, "try GET /metrics\n");
        return;
      }
      ++counters.metrics_scrapes;
      Reply(fd, deadline, 200, "OK", "text/plain; version=0.0.4",
            MetricsText(counters));
      return;
  }
}

}  // namespace

absl::StatusOr<OrchestratorOptions> OrchestratorOptionsFromConfig(
    const Config& config) {
  OrchestratorOptions options;
  for (auto [key, target] :
       {std::pair{"redis.url", &options.redis},
        std::pair{"routing.static_worker_addr", &options.worker}}) {
    absl::StatusOr<std::string> value = config.GetString(key);
    if (!value.ok()) return value.status();
    absl::StatusOr<HostPort> address = ParseHostPort(*value);
    if (!address.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(key, ": ", address.status().message()));
    }
    *target = *address;
  }
  for (auto [key, target] :
       {std::pair{"server.ws_port", &options.ws_port},
        std::pair{"server.health_port", &options.health_port},
        std::pair{"metrics.port", &options.metrics_port}}) {
    absl::StatusOr<uint16_t> port = config.GetPort(key);
    if (!port.ok()) return port.status();
    *target = *port;
  }
  return options;
}

absl::Status RunOrchestrator(
    const OrchestratorOptions& options, int stop_fd,
    const std::function<void(const OrchestratorPorts&)>& on_ready) {
  if (absl::Status st = AwaitDependencies(options, stop_fd); !st.ok()) {
    return st;
  }
  std::vector<Fd> listeners;
  std::vector<int> fds;
  std::vector<uint16_t> bound;
  for (uint16_t port :
       {options.ws_port, options.health_port, options.metrics_port}) {
    absl::StatusOr<Fd> listener = ListenLoopback(port);
    if (!listener.ok()) return listener.status();
    absl::StatusOr<uint16_t> local = LocalPort(listener->get());
    if (!local.ok()) return local.status();
    fds.push_back(listener->get());
    bound.push_back(*local);
    listeners.push_back(std::move(*listener));
  }
  on_ready(OrchestratorPorts{bound[0], bound[1], bound[2]});
  Counters counters;
  for (;;) {
    absl::StatusOr<int> ready =
        WaitReadable(fds, stop_fd, absl::Now() + absl::Seconds(1));
    if (!ready.ok()) return ready.status();
    if (*ready == kWaitStopped) return absl::OkStatus();
    if (*ready == kWaitTimedOut) continue;
    absl::StatusOr<Fd> conn = Accept(fds[*ready]);
    if (conn.ok()) {
      ServeConnection(static_cast<Endpoint>(*ready), conn->get(), options,
                      counters);
    }
  }
}

}  // namespace portlease::m2
