// Helpers for the server integration tests: a pool outside the kernel's
// ephemeral range, an in-process server on a Unix socket or loopback TCP
// port 0, and deadlines. TempDir and PollUntil are testing/'s.
#ifndef PORTLEASE_TESTS_SERVER_TEST_UTIL_H_
#define PORTLEASE_TESTS_SERVER_TEST_UTIL_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "portlease/v1/portlease.grpc.pb.h"
#include "server/core/clock.h"
#include "server/core/lease_manager.h"
#include "server/core/pool_config.h"
#include "server/core/port_prober.h"
#include "server/service/server.h"
#include "server/store/memory_lease_store.h"
#include "testing/poll_until.h"
#include "testing/temp_dir.h"

namespace portlease {

// testing/temp_dir.h, named here for the tests in namespace portlease.
using testing::TempDir;

// One range of `size` ports that lies outside the kernel's ephemeral range
// and holds none of the ports portleased excludes by default (--always-exclude).
PortRange TestPoolRange(uint32_t size);

// Sets the context's deadline `timeout` (times the build's time factor,
// tests/support/test_ports.h) from now.
void SetDeadline(grpc::ClientContext* context,
                 absl::Duration timeout = absl::Seconds(10));

// testing/poll_until.h: the timeout is scaled by the suite's time factor.
using testing::PollUntil;

enum class Transport { kUnix, kTcp };

// An in-process portlease server: memory store, TrustingProber, real clock.
class TestServer {
 public:
  struct Options {
    Transport transport = Transport::kUnix;
    // Pool size, placed by TestPoolRange.
    uint32_t pool_size = 64;
    // Applied after pool is set; cooldown defaults to 0 here.
    std::function<void(LeaseManagerOptions*)> configure;
    HolderLookup holders;
    // Applied last to the server's options (rate limit off by default here:
    // the stress tests exceed any per-caller limit).
    std::function<void(ServerOptions*)> configure_server;
  };
  explicit TestServer(Options options);
  ~TestServer();

  const std::string& address() const { return address_; }
  const PortRange& pool() const { return pool_; }
  LeaseManager* manager() { return manager_.get(); }
  RunningServer* server() { return server_.get(); }
  std::shared_ptr<grpc::Channel> NewChannel() const;
  std::unique_ptr<v1::PortLease::Stub> NewStub() const;

 private:
  TempDir dir_;
  PortRange pool_;
  RealClock clock_;
  MemoryLeaseStore store_;
  TrustingProber prober_;
  std::unique_ptr<LeaseManager> manager_;
  std::unique_ptr<RunningServer> server_;
  std::string address_;
};

}  // namespace portlease

#endif  // PORTLEASE_TESTS_SERVER_TEST_UTIL_H_
