#include "server/metrics/metrics_http_server.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "httplib.h"

namespace portlease {

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& host, int port, const MetricsRegistry* registry) {
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer());
  server->http_ = std::make_unique<httplib::Server>();
  httplib::Server& http = *server->http_;
  // Scrapes are small and quick: keep slow clients from holding threads.
  http.set_read_timeout(5, 0);
  http.set_write_timeout(5, 0);
  http.set_keep_alive_max_count(10);
  http.set_payload_max_length(4096);
  http.Get("/metrics", [registry](const httplib::Request&,
                                  httplib::Response& res) {
    res.set_content(registry->Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("portleased: metrics at /metrics\n", "text/plain");
  });
  const int bound = port == 0 ? http.bind_to_any_port(host)
                              : (http.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot serve metrics on ", host, ":", port,
        ": address in use, not permitted, or unknown host"));
  }
  server->port_ = bound;
  httplib::Server* raw = server->http_.get();
  std::atomic<bool>* done = &server->listener_done_;
  server->thread_ = std::thread([raw, done] {
    raw->listen_after_bind();
    *done = true;
  });
  return server;
}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

void MetricsHttpServer::Stop() {
  if (!thread_.joinable()) return;
  // httplib's stop() does nothing until the listener thread has begun to
  // listen (is_running()): a SIGTERM right after start-up would otherwise
  // leave the thread listening and this join waiting for ever.
  while (!http_->is_running() && !listener_done_) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  http_->stop();
  thread_.join();
}

}  // namespace portlease
