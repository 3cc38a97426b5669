// MetricsHttpServer: serves a MetricsRegistry over HTTP for Prometheus
// (GET /metrics), with cpp-httplib.
//
//   absl::StatusOr<std::unique_ptr<MetricsHttpServer>> http =
//       MetricsHttpServer::Start("127.0.0.1", 0, &registry);
//   // (*http)->port(): the port bound
//
// Thread-safe. The registry must outlive the server.
#ifndef PORTLEASE_SERVER_METRICS_METRICS_HTTP_SERVER_H_
#define PORTLEASE_SERVER_METRICS_METRICS_HTTP_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "server/metrics/metrics.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace portlease {

class MetricsHttpServer {
 public:
  // Binds host:port (port 0 picks a free one) and serves from a thread
  // pool. UNAVAILABLE naming the address when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& host, int port, const MetricsRegistry* registry);

  ~MetricsHttpServer();  // Stop()
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  int port() const { return port_; }

  // Stops serving and waits for the serving thread. Idempotent.
  void Stop();

 private:
  MetricsHttpServer() = default;

  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  // Set by thread_ when listen_after_bind() has returned.
  std::atomic<bool> listener_done_{false};
  int port_ = 0;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_METRICS_METRICS_HTTP_SERVER_H_
