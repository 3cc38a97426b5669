// PortLeaseService: the portlease.v1.PortLease gRPC service, an adapter over
// a LeaseBackend (LeaseManager on one host). Each handler converts the request (convert.h), calls the
// manager and converts the result and status back; the lease rules live in
// the manager.
//
//   PortLeaseService service({.manager = manager.get(), .clock = &clock});
//   grpc::ServerBuilder builder;
//   builder.RegisterService(&service);
//
// Acquire with wait=true queues in the manager until the RPC's deadline
// (capped by max_wait) and is cancelled with the RPC. Hold attaches a holder
// on its first message and detaches it exactly once when the stream ends,
// however it ends.
//
// Thread-safe; the manager, clock and holder lookup must outlive the
// service and every RPC it started (i.e. the grpc::Server using it).
#ifndef PORTLEASE_SERVER_SERVICE_PORT_LEASE_SERVICE_H_
#define PORTLEASE_SERVER_SERVICE_PORT_LEASE_SERVICE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "portlease/v1/portlease.grpc.pb.h"
#include "server/core/clock.h"
#include "server/core/lease_backend.h"
#include "server/core/pool_config.h"
#include "common/host/port_holders.h"
#include "server/service/peer_credentials.h"
#include "server/service/rate_limiter.h"

namespace portlease {

// Finds the sockets and processes using ports (for Who).
using HolderLookup = std::function<absl::StatusOr<std::vector<PortHolder>>(
    absl::Span<const Port>)>;

// Whether the server uses host-wide claims (reported by Status).
struct ClaimsState {
  bool enabled = false;
  // The claims directory, when enabled.
  std::string dir;
  // Why not, when not enabled.
  std::string off_reason;
};

struct PortLeaseServiceOptions {
  // Required.
  LeaseBackend* manager = nullptr;
  // Required: the manager's clock (waits are converted to its monotonic
  // time).
  Clock* clock = nullptr;
  // Who's socket lookup; unset: FindPortHolders on /proc.
  HolderLookup holders;
  // Reported by Status.
  std::string version;
  ClaimsState claims;
  // Longest Acquire wait, for RPCs with no (or a farther) deadline.
  absl::Duration max_wait = absl::Hours(1);
  // Most ports in one Who request.
  uint32_t max_who_ports = 256;
  // Credentials of Unix socket callers (UnixCredentialsListener); unset:
  // callers are known by address only.
  const PeerRegistry* peers = nullptr;
  // Requests per second per caller; unset: no limit.
  RateLimiter* rate_limiter = nullptr;
  // The admin token (admin_auth.h); empty: admin RPCs are refused.
  std::string admin_token;
  // Runs when an Acquire finishes, with its status and how long it took
  // (queueing included). Keep it cheap.
  std::function<void(const absl::Status&, absl::Duration)> on_acquire_done;
  // Runs after SetPool replaced the pool, with the change, before the
  // answer; without the manager's lock, so it may do I/O (portleased's
  // --reserve-pool). Unset: nothing.
  std::function<void(const PoolChange&)> on_pool_changed;
};

class PortLeaseService final : public v1::PortLease::CallbackService {
 public:
  explicit PortLeaseService(PortLeaseServiceOptions options);
  PortLeaseService(const PortLeaseService&) = delete;
  PortLeaseService& operator=(const PortLeaseService&) = delete;

  grpc::ServerUnaryReactor* Acquire(grpc::CallbackServerContext* context,
                                    const v1::AcquireRequest* request,
                                    v1::AcquireResponse* response) override;
  grpc::ServerUnaryReactor* Renew(grpc::CallbackServerContext* context,
                                  const v1::RenewRequest* request,
                                  v1::RenewResponse* response) override;
  grpc::ServerUnaryReactor* Release(grpc::CallbackServerContext* context,
                                    const v1::ReleaseRequest* request,
                                    v1::ReleaseResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const v1::GetRequest* request,
                                v1::GetResponse* response) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* context,
                                 const v1::ListRequest* request,
                                 v1::ListResponse* response) override;
  grpc::ServerBidiReactor<v1::HoldRequest, v1::HoldResponse>* Hold(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Who(grpc::CallbackServerContext* context,
                                const v1::WhoRequest* request,
                                v1::WhoResponse* response) override;
  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* context,
                                   const v1::StatusRequest* request,
                                   v1::StatusResponse* response) override;
  grpc::ServerUnaryReactor* Events(grpc::CallbackServerContext* context,
                                   const v1::EventsRequest* request,
                                   v1::EventsResponse* response) override;
  grpc::ServerUnaryReactor* ForceRelease(
      grpc::CallbackServerContext* context,
      const v1::ForceReleaseRequest* request,
      v1::ForceReleaseResponse* response) override;
  grpc::ServerUnaryReactor* DrainPort(grpc::CallbackServerContext* context,
                                      const v1::DrainPortRequest* request,
                                      v1::DrainPortResponse* response) override;
  grpc::ServerUnaryReactor* UndrainPort(
      grpc::CallbackServerContext* context,
      const v1::UndrainPortRequest* request,
      v1::UndrainPortResponse* response) override;
  grpc::ServerUnaryReactor* SetPool(grpc::CallbackServerContext* context,
                                    const v1::SetPoolRequest* request,
                                    v1::SetPoolResponse* response) override;

 private:
  // Who is calling, as the connection says (rate limits, owner entries).
  PeerIdentity Peer(const grpc::CallbackServerContext& context) const;
  // Who is calling, for the lease rules: the certificate, uid or address,
  // and its privilege (caller_identity.h).
  Principal CallerOf(const grpc::CallbackServerContext& context) const;
  // The caller of an admin RPC (the admin token was checked): privileged.
  Principal AdminOf(const grpc::CallbackServerContext& context) const;
  // The caller's rate limit: RESOURCE_EXHAUSTED when spent.
  absl::Status Admit(const PeerIdentity& caller);
  // Admit, then the admin token: PERMISSION_DENIED without it.
  absl::Status AdmitAdmin(const grpc::CallbackServerContext& context);

  // The Who answer; INVALID_ARGUMENT for bad ports.
  absl::Status FillWho(const v1::WhoRequest& request,
                       v1::WhoResponse* response);

  const PortLeaseServiceOptions options_;
  const PeerRegistry no_peers_;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_SERVICE_PORT_LEASE_SERVICE_H_
