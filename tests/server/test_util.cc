#include "tests/server/test_util.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/probe/system_prober.h"
#include "tests/support/test_ports.h"

namespace portlease {
PortRange TestPoolRange(uint32_t size) {
  absl::StatusOr<PortRange> ephemeral = ReadEphemeralPortRange("/proc");
  const PortRange eph = ephemeral.ok() ? *ephemeral : PortRange{32768, 60999};
  for (uint32_t lo : {20000u, 21000u, 11000u, 12000u, 40000u, 61000u, 2000u}) {
    const uint32_t hi = lo + size - 1;
    if (hi > 65535) continue;
    if (!(hi < eph.lo || lo > eph.hi)) continue;
    // portleased's default --always-exclude.
    constexpr Port kAlwaysExcluded[] = {6379, 7001, 8080, 8081, 9090};
    const bool has_m2 =
        std::any_of(std::begin(kAlwaysExcluded), std::end(kAlwaysExcluded),
                    [&](Port p) { return p >= lo && p <= hi; });
    if (has_m2) continue;
    return PortRange{static_cast<Port>(lo), static_cast<Port>(hi)};
  }
  ADD_FAILURE() << "no test pool of " << size << " ports fits";
  return PortRange{20000, static_cast<Port>(20000 + size - 1)};
}

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(
      absl::ToChronoTime(absl::Now() + testing::Scaled(timeout)));
}

TestServer::TestServer(Options options) {
  pool_ = TestPoolRange(options.pool_size);
  LeaseManagerOptions manager_options;
  manager_options.pool = {pool_};
  manager_options.cooldown = absl::ZeroDuration();
  if (options.configure) options.configure(&manager_options);
  absl::StatusOr<std::unique_ptr<LeaseManager>> manager = LeaseManager::Create(
      std::move(manager_options), &clock_, &store_, &prober_);
  if (!manager.ok()) {
    ADD_FAILURE() << manager.status();
    std::abort();
  }
  manager_ = *std::move(manager);
  ServerOptions server_options;
  server_options.listen = {options.transport == Transport::kUnix
                               ? "unix:" + dir_.File("portleased.sock")
                               : "127.0.0.1:0"};
  server_options.service.manager = manager_.get();
  server_options.service.clock = &clock_;
  server_options.service.version = "test";
  server_options.service.holders = options.holders;
  server_options.tick_interval = absl::Milliseconds(20);
  server_options.rate_limit.per_second = 0;
  if (options.configure_server) options.configure_server(&server_options);
  absl::StatusOr<std::unique_ptr<RunningServer>> server =
      StartServer(std::move(server_options));
  if (!server.ok()) {
    ADD_FAILURE() << server.status();
    std::abort();
  }
  server_ = *std::move(server);
  address_ = server_->addresses().front();
}

TestServer::~TestServer() { server_->Shutdown(absl::Seconds(1)); }

std::shared_ptr<grpc::Channel> TestServer::NewChannel() const {
  return grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
}

std::unique_ptr<v1::PortLease::Stub> TestServer::NewStub() const {
  return v1::PortLease::NewStub(NewChannel());
}

}  // namespace portlease
