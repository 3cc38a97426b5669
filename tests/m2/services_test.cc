// In-process tests of the worker and orchestrator stand-ins against a fake
// Redis, all on port-0 loopback listeners.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <future>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/m2/http.h"
#include "tests/m2/orchestrator.h"
#include "tests/m2/probes.h"
#include "tests/m2/socket_io.h"
#include "tests/m2/worker.h"

namespace portlease::m2 {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kTimeout = absl::Seconds(5);

// A pipe whose read end is a stop fd.
class StopPipe {
 public:
  StopPipe() {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    read_ = Fd(fds[0]);
    write_ = Fd(fds[1]);
  }
  int fd() const { return read_.get(); }
  void Fire() { EXPECT_EQ(write(write_.get(), "x", 1), 1); }

 private:
  Fd read_, write_;
};

// Runs `run(stop_fd)` on a thread; Stop() fires the stop fd and returns its
// status.
class Runner {
 public:
  explicit Runner(std::function<absl::Status(int)> run)
      : thread_([this, run] { status_ = run(stop_.fd()); }) {}
  ~Runner() { Stop().IgnoreError(); }
  absl::Status Stop() {
    if (thread_.joinable()) {
      stop_.Fire();
      thread_.join();
    }
    return status_;
  }

 private:
  StopPipe stop_;
  absl::Status status_;
  std::thread thread_;
};

// Answers every RESP PING with +PONG.
class FakeRedis {
 public:
  FakeRedis()
      : listener_(*ListenLoopback(0)), port_(*LocalPort(listener_.get())) {
    runner_ = std::make_unique<Runner>([this](int stop_fd) -> absl::Status {
      for (;;) {
        absl::StatusOr<int> ready = WaitReadable(
            {listener_.get()}, stop_fd, absl::Now() + absl::Seconds(1));
        if (!ready.ok() || *ready == kWaitStopped) return ready.status();
        if (*ready == kWaitTimedOut) continue;
        absl::StatusOr<Fd> conn = Accept(listener_.get());
        if (!conn.ok()) continue;
        const absl::Time deadline = absl::Now() + absl::Seconds(1);
        if (ReadUntil(conn->get(), "PING\r\n", 1024, deadline).ok()) {
          WriteAll(conn->get(), "+PONG\r\n", deadline).IgnoreError();
        }
      }
    });
  }
  // Stops answering and closes the port (connections are refused).
  void Shutdown() {
    runner_.reset();
    listener_ = Fd();
  }
  HostPort address() const { return {"127.0.0.1", port_}; }

 private:
  Fd listener_;
  uint16_t port_;
  std::unique_ptr<Runner> runner_;
};

// A port nothing listens on (bound, then closed; a small race accepted).
uint16_t ClosedPort() {
  Fd fd = *ListenLoopback(0);
  return *LocalPort(fd.get());
}

// Sends `request`, half-closes, and reads until the server closes.
std::string Exchange(uint16_t port, absl::string_view request) {
  absl::StatusOr<Fd> fd = Connect({"127.0.0.1", port}, kTimeout);
  EXPECT_TRUE(fd.ok()) << fd.status();
  if (!fd.ok()) return "";
  EXPECT_TRUE(WriteAll(fd->get(), request, absl::Now() + kTimeout).ok());
  shutdown(fd->get(), SHUT_WR);
  std::string got;
  const absl::Time deadline = absl::Now() + kTimeout;
  while (absl::Now() < deadline) {
    absl::StatusOr<std::string> byte = ReadExactly(fd->get(), 1, deadline);
    if (!byte.ok()) break;
    got += *byte;
  }
  return got;
}

std::string Get(uint16_t port, absl::string_view path) {
  return Exchange(port,
                  absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: t\r\n\r\n"));
}

struct Started {
  std::unique_ptr<Runner> runner;
  OrchestratorPorts ports;
};

Started StartWorker(uint16_t* port) {
  auto promise = std::make_shared<std::promise<uint16_t>>();
  std::future<uint16_t> ready = promise->get_future();
  auto runner = std::make_unique<Runner>([promise](int stop_fd) {
    return RunWorker(WorkerOptions{}, stop_fd,
                     [promise](uint16_t p) { promise->set_value(p); });
  });
  EXPECT_EQ(ready.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  *port = ready.get();
  return {std::move(runner), {}};
}

Started StartOrchestrator(const OrchestratorOptions& options) {
  auto promise = std::make_shared<std::promise<OrchestratorPorts>>();
  std::future<OrchestratorPorts> ready = promise->get_future();
  auto runner = std::make_unique<Runner>([promise, options](int stop_fd) {
    return RunOrchestrator(
        options, stop_fd,
        [promise](const OrchestratorPorts& p) { promise->set_value(p); });
  });
  EXPECT_EQ(ready.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  return {std::move(runner), ready.get()};
}

TEST(WorkerTest, AnswersPingAndStops) {
  uint16_t port = 0;
  Started worker = StartWorker(&port);
  ASSERT_NE(port, 0);
  EXPECT_TRUE(PingWorker({"127.0.0.1", port}, kTimeout).ok());
  EXPECT_EQ(Exchange(port, "HELLO\nPING\n"),
            "ERR unknown command\nPONG worker\n");
  EXPECT_TRUE(worker.runner->Stop().ok());
  EXPECT_FALSE(PingWorker({"127.0.0.1", port}, kTimeout).ok());
}

TEST(WorkerTest, BusyPortIsUnavailable) {
  Fd holder = *ListenLoopback(0);
  WorkerOptions options;
  options.port = *LocalPort(holder.get());
  absl::Status st = RunWorker(
      options, -1, [](uint16_t) { ADD_FAILURE() << "must not become ready"; });
  EXPECT_TRUE(absl::IsUnavailable(st)) << st;
}

TEST(WorkerTest, OptionsFromConfig) {
  absl::StatusOr<Config> config = Config::Parse(
      "grpc:\n  port: 7001\nredis:\n  url: redis://127.0.0.1:6379\n", "w");
  ASSERT_TRUE(config.ok());
  absl::StatusOr<WorkerOptions> options = WorkerOptionsFromConfig(*config);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->port, 7001);
  EXPECT_EQ(options->redis.port, 6379);
  config = Config::Parse("grpc:\n  port: 7001\n", "w");
  EXPECT_TRUE(absl::IsNotFound(WorkerOptionsFromConfig(*config).status()));
}

class OrchestratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    worker_ = StartWorker(&worker_port_);
    options_.redis = redis_.address();
    options_.worker = {"127.0.0.1", worker_port_};
  }

  FakeRedis redis_;
  uint16_t worker_port_ = 0;
  Started worker_;
  OrchestratorOptions options_;
};

TEST_F(OrchestratorTest, HealthMetricsAndRedisLoss) {
  Started orch = StartOrchestrator(options_);
  EXPECT_THAT(Get(orch.ports.health, "/healthz"),
              StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(Get(orch.ports.health, "/healthz"), HasSubstr("\r\n\r\nok\n"));
  EXPECT_THAT(Get(orch.ports.health, "/other"), StartsWith("HTTP/1.1 404"));

  const std::string metrics = Get(orch.ports.metrics, "/metrics");
  EXPECT_THAT(metrics, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(metrics, HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(metrics, HasSubstr("\nm2_orchestrator_up 1\n"));
  EXPECT_THAT(
      metrics,
      HasSubstr("m2_orchestrator_health_checks_total{result=\"ok\"} 2"));

  redis_.Shutdown();
  const std::string down = Get(orch.ports.health, "/healthz");
  EXPECT_THAT(down, StartsWith("HTTP/1.1 503 Service Unavailable"));
  EXPECT_THAT(down, HasSubstr(absl::StrCat("redis at 127.0.0.1:",
                                           options_.redis.port)));
  EXPECT_TRUE(orch.runner->Stop().ok());
}

TEST_F(OrchestratorTest, WebSocketPortUpgradesOrAnswers426) {
  Started orch = StartOrchestrator(options_);
  EXPECT_THAT(Get(orch.ports.ws, "/"),
              StartsWith("HTTP/1.1 426 Upgrade Required\r\n"));
  EXPECT_THAT(Exchange(orch.ports.ws, "nonsense\r\n\r\n"),
              StartsWith("HTTP/1.1 400"));

  // RFC 6455 example key, then a masked "Hello" text frame.
  const std::string reply = Exchange(
      orch.ports.ws,
      absl::StrCat(
          "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
          "Connection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          "Sec-WebSocket-Version: 13\r\n\r\n",
          std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11)));
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 101 Switching Protocols\r\n"));
  EXPECT_THAT(reply,
              HasSubstr("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
  const size_t body = reply.find("\r\n\r\n") + 4;
  ASSERT_NE(body, std::string::npos + 4);
  EXPECT_EQ(reply.substr(body),
            std::string("\x81\x05Hello\x88\x02\x03\xe8", 11));
}

TEST(OrchestratorStartupTest, FailsWhenDependenciesStayUnreachable) {
  OrchestratorOptions options;
  options.redis = {"127.0.0.1", ClosedPort()};
  options.worker = {"127.0.0.1", ClosedPort()};
  options.startup_timeout = absl::Milliseconds(300);
  absl::Status st = RunOrchestrator(options, -1, [](const OrchestratorPorts&) {
    ADD_FAILURE() << "must not become ready";
  });
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_THAT(st.message(), HasSubstr(absl::StrCat("redis at 127.0.0.1:",
                                                   options.redis.port)));
  EXPECT_THAT(st.message(), HasSubstr(absl::StrCat("worker at 127.0.0.1:",
                                                   options.worker.port)));
}

TEST(OrchestratorStartupTest, StopDuringStartupIsCancelled) {
  OrchestratorOptions options;
  options.redis = {"127.0.0.1", ClosedPort()};
  options.worker = {"127.0.0.1", ClosedPort()};
  options.startup_timeout = absl::Seconds(30);
  StopPipe stop;
  stop.Fire();
  absl::Status st =
      RunOrchestrator(options, stop.fd(), [](const OrchestratorPorts&) {});
  EXPECT_TRUE(absl::IsCancelled(st)) << st;
}

TEST(OrchestratorStartupTest, OptionsFromConfig) {
  absl::StatusOr<Config> config = Config::Parse(
      "redis:\n  url: redis://127.0.0.1:6379\n"
      "routing:\n  static_worker_addr: 127.0.0.1:7001\n"
      "server:\n  ws_port: 8080\n  health_port: 8081\n"
      "metrics:\n  port: 9090\n",
      "o");
  ASSERT_TRUE(config.ok()) << config.status();
  absl::StatusOr<OrchestratorOptions> options =
      OrchestratorOptionsFromConfig(*config);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->redis.port, 6379);
  EXPECT_EQ(options->worker.port, 7001);
  EXPECT_EQ(options->ws_port, 8080);
  EXPECT_EQ(options->health_port, 8081);
  EXPECT_EQ(options->metrics_port, 9090);
}

}  // namespace
}  // namespace portlease::m2
