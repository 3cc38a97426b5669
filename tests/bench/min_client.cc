// bench_min_client: the smallest useful gRPC client process, the floor
// process_cost.sh compares `lease-run -- true` with. Connects to
// $PORTLEASE_ADDR (or the first argument), makes one Status call with a 10 s
// deadline, and exits 0 on success, 1 on failure, 2 on usage errors.
//
//   PORTLEASE_ADDR=unix:/tmp/x/pl.sock bench_min_client
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"
#include "portlease/v1/portlease.grpc.pb.h"

int main(int argc, char** argv) {
  const char* env = std::getenv("PORTLEASE_ADDR");
  const std::string address = argc > 1 ? argv[1] : (env ? env : "");
  if (address.empty()) {
    std::fprintf(stderr,
                 "usage: bench_min_client [ADDRESS] (or PORTLEASE_ADDR)\n");
    return 2;
  }
  std::unique_ptr<portlease::v1::PortLease::Stub> stub =
      portlease::v1::PortLease::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  portlease::v1::StatusRequest request;
  portlease::v1::StatusResponse response;
  const grpc::Status status = stub->Status(&context, request, &response);
  if (!status.ok()) {
    std::fprintf(stderr, "bench_min_client: %s\n",
                 status.error_message().c_str());
    return 1;
  }
  return 0;
}
