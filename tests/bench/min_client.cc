// bench_min_client: the smallest useful gRPC client process, the floor
// process_cost.sh and burst.py compare `lease-run` with. Connects to
// $PORTLEASE_ADDR (or the first argument) and makes one call with a 10 s
// deadline: Status, or with --acquire N an Acquire of N ports (TTL 60 s).
// An acquire prints "PORTS_AT_NS PORT..." (CLOCK_REALTIME when the reply
// came) on stdout, sleeps --hold SECONDS (default 0) and releases the lease
// with a second call. With `-- COMMAND...` after --acquire N it prints
// nothing: it runs COMMAND with PORTLEASE_PORTS="PORT ..." in its
// environment, waits for it, and releases: the least any lease-then-run
// wrapper does, which burst.py's "floor+child" compares lease-run with.
// Exits 0 on success (and COMMAND's success), 1 on failure, 2 on usage
// errors.
//
//   PORTLEASE_ADDR=unix:/tmp/x/pl.sock bench_min_client
//   bench_min_client unix:/tmp/x/pl.sock --acquire 5 --hold 1
//   bench_min_client unix:/tmp/x/pl.sock --acquire 5 -- bench_binder ...
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/system/lock_graph.h"
#include "common/system/malloc_arena.h"
#include "grpcpp/grpcpp.h"
#include "portlease/v1/portlease.grpc.pb.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: bench_min_client [ADDRESS] [--acquire N [--hold "
               "SECONDS | -- COMMAND...]] (or PORTLEASE_ADDR)\n");
  return 2;
}

void SetDeadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
}

int Fail(const grpc::Status& status) {
  std::fprintf(stderr, "bench_min_client: %s\n",
               status.error_message().c_str());
  return 1;
}

// Runs argv with PORTLEASE_PORTS set to `ports`; true when it exits 0.
bool RunWithPorts(char** argv, const std::string& ports) {
  std::vector<std::string> entries = {"PORTLEASE_PORTS=" + ports};
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "PORTLEASE_PORTS=", 16) != 0) entries.push_back(*e);
  }
  std::vector<char*> envp;
  for (std::string& entry : entries) envp.push_back(entry.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv, envp.data()) != 0) {
    std::fprintf(stderr, "bench_min_client: cannot run %s\n", argv[0]);
    return false;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* env = std::getenv("PORTLEASE_ADDR");
  std::string address = env ? env : "";
  long acquire = 0;
  double hold = 0;
  char** command = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0 && i + 1 < argc) {
      command = argv + i + 1;
      break;
    } else if (std::strcmp(argv[i], "--acquire") == 0 && i + 1 < argc) {
      acquire = std::strtol(argv[++i], nullptr, 10);
      if (acquire <= 0) return Usage();
    } else if (std::strcmp(argv[i], "--hold") == 0 && i + 1 < argc) {
      hold = std::strtod(argv[++i], nullptr);
    } else if (argv[i][0] != '-') {
      address = argv[i];
    } else {
      return Usage();
    }
  }
  if (address.empty() || (command != nullptr && acquire == 0)) return Usage();
  // As lease-run: the floor is the same gRPC.
  portlease::SkipLockGraphInReleaseBuilds();
  portlease::UseOneMallocArena();
  std::unique_ptr<portlease::v1::PortLease::Stub> stub =
      portlease::v1::PortLease::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  if (acquire == 0) {
    grpc::ClientContext context;
    SetDeadline(context);
    portlease::v1::StatusRequest request;
    portlease::v1::StatusResponse response;
    const grpc::Status status = stub->Status(&context, request, &response);
    return status.ok() ? 0 : Fail(status);
  }
  portlease::v1::AcquireResponse granted;
  {
    grpc::ClientContext context;
    SetDeadline(context);
    portlease::v1::AcquireRequest request;
    request.set_count(static_cast<uint32_t>(acquire));
    request.mutable_ttl()->set_seconds(60);
    const grpc::Status status = stub->Acquire(&context, request, &granted);
    if (!status.ok()) return Fail(status);
  }
  bool ran = true;
  if (command != nullptr) {
    std::string ports;
    for (const auto& port : granted.lease().ports()) {
      if (!ports.empty()) ports += ' ';
      ports += std::to_string(port.port());
    }
    ran = RunWithPorts(command, ports);
  } else {
    timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    std::printf("%lld", static_cast<long long>(now.tv_sec) * 1000000000LL +
                            now.tv_nsec);
    for (const auto& port : granted.lease().ports()) {
      std::printf(" %u", static_cast<unsigned>(port.port()));
    }
    std::printf("\n");
    std::fflush(stdout);
  }
  if (hold > 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(hold));
  }
  grpc::ClientContext context;
  SetDeadline(context);
  portlease::v1::ReleaseRequest request;
  request.set_lease_id(granted.lease().lease_id());
  request.set_fencing_token(granted.lease().fencing_token());
  portlease::v1::ReleaseResponse response;
  const grpc::Status status = stub->Release(&context, request, &response);
  if (!status.ok()) return Fail(status);
  return ran ? 0 : 1;
}
