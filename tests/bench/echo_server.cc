// bench_echo_server: the bare gRPC service the load driver measures
// portleased against. Same gRPC version, same callback API, same transport
// (a Unix socket), SO_REUSEPORT off as in portleased; each call only
// allocates a response of the requested size, after spinning for the
// request's busy_us (0 unless the load driver's --echo_busy_us asks).
//
//   bench_echo_server --listen=unix:/tmp/x/echo.sock --ready_fd=3
//
// Writes "ready ADDRESS\n" to --ready_fd once serving (the protocol of
// portleased), stops on SIGTERM or SIGINT.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/system/lock_graph.h"
#include "grpcpp/grpcpp.h"
#include "portlease/bench/echo.grpc.pb.h"

ABSL_FLAG(std::string, listen, "", "Where to serve: unix:PATH or HOST:PORT.");
ABSL_FLAG(int, ready_fd, -1,
          "Once serving, write \"ready ADDRESS\\n\" to this descriptor and "
          "close it.");

namespace portlease::bench {
namespace {

// Largest response served, so that a bad request cannot exhaust memory.
constexpr uint32_t kMaxResponseBytes = 1 << 20;
// Longest busy_us served, so that a bad request cannot stall the server.
constexpr uint32_t kMaxBusyUs = 100'000;

// Keeps this thread busy for `us` microseconds, as a handler doing that
// much work would.
void BusyFor(uint32_t us) {
  if (us == 0) return;
  const absl::Time end = absl::Now() + absl::Microseconds(us);
  while (absl::Now() < end) {
  }
}

class EchoService final : public Echo::CallbackService {
 public:
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const EchoRequest* request,
                                 EchoResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (request->response_bytes() > kMaxResponseBytes ||
        request->busy_us() > kMaxBusyUs) {
      reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                   "response_bytes or busy_us too large"));
      return reactor;
    }
    BusyFor(request->busy_us());
    response->mutable_payload()->assign(request->response_bytes(), 'x');
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

int Run(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string listen = absl::GetFlag(FLAGS_listen);
  if (listen.empty()) {
    std::fprintf(stderr, "bench_echo_server: --listen is required\n");
    return 2;
  }
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // As portleased: the baseline is the same gRPC.
  portlease::SkipLockGraphInReleaseBuilds();

  EchoService service;
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    std::fprintf(stderr, "bench_echo_server: cannot listen on %s\n",
                 listen.c_str());
    return 1;
  }
  const int ready_fd = absl::GetFlag(FLAGS_ready_fd);
  if (ready_fd >= 0) {
    const std::string ready = absl::StrCat("ready ", listen, "\n");
    ssize_t ignored = write(ready_fd, ready.data(), ready.size());
    (void)ignored;
    close(ready_fd);
  }
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  server->Wait();
  return 0;
}

}  // namespace
}  // namespace portlease::bench

int main(int argc, char** argv) { return portlease::bench::Run(argc, argv); }
