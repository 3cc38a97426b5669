// Client: a thin, deadline-bound wrapper over the portlease.v1 API.
//
//   auto client = std::make_shared<portlease::Client>("unix:/tmp/x.sock");
//   portlease::AcquireSpec spec;
//   spec.names = {"redis", "worker"};
//   spec.ttl = absl::Minutes(5);
//   absl::StatusOr<portlease::v1::Lease> lease = client->Acquire(spec);
//
// For the default address rules (PORTLEASE_ADDR, system socket, embedded
// default server) see portlease/address.h; for a lease kept alive and
// released automatically see portlease/scoped_lease.h.
//
// Every call has a deadline (ClientOptions::rpc_timeout unless the call
// takes its own). Errors are the server's gRPC status converted to
// absl::Status (same code, same message); the codes are those documented in
// proto/portlease/v1/portlease.proto, plus UNAVAILABLE / DEADLINE_EXCEEDED
// when the server cannot be reached in time.
//
// Thread-safe: all methods may be called concurrently.
#ifndef PORTLEASE_CLIENT_INCLUDE_PORTLEASE_CLIENT_H_
#define PORTLEASE_CLIENT_INCLUDE_PORTLEASE_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/support/status.h"
#include "portlease/owner.h"
#include "portlease/v1/portlease.grpc.pb.h"

namespace portlease {

// The version this client was built as; compared with the embedded default
// server's StatusResponse.version.
extern const char kClientVersion[];

struct ClientOptions {
  // Deadline of each unary call that takes no timeout of its own.
  absl::Duration rpc_timeout = absl::Seconds(10);
  // Acquire attempts in total when the server answers UNAVAILABLE.
  int acquire_attempts = 5;
  // Delay before the first Acquire retry; doubles up to max_backoff.
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(2);
};

// What to acquire. Exactly one of names / count.
struct AcquireSpec {
  // Port names, in order; each [a-z][a-z0-9_-]{0,31}.
  std::vector<std::string> names;
  // Number of unnamed ports.
  uint32_t count = 0;
  // Time to live; zero means the server's default.
  absl::Duration ttl = absl::ZeroDuration();
  // Owner metadata; when empty, BuildOwnerMetadata(CurrentProcessFacts()).
  OwnerMetadata owner;
  // Idempotency key; when empty a random one is generated. Retries of this
  // Acquire reuse it, so a retry never grants a second lease.
  std::string request_id;
  // Also require the ports free for UDP.
  bool udp = false;
  // When positive, queue up to this long when the pool is busy instead of
  // failing with RESOURCE_EXHAUSTED (the call's deadline is then `wait`).
  absl::Duration wait = absl::ZeroDuration();
};

// absl::Status with the same code and message as `status`.
absl::Status FromGrpcStatus(const grpc::Status& status);

// 32 random lowercase hex characters.
std::string RandomRequestId();

class Client {
 public:
  // Uses `channel`; `address` only names the server in messages.
  Client(std::shared_ptr<grpc::Channel> channel, std::string address,
         ClientOptions options = {});
  // Connects (lazily) to `address`: "unix:/path" or "host:port".
  explicit Client(std::string address, ClientOptions options = {});

  // A client for $PORTLEASE_ADDR. FAILED_PRECONDITION when it is unset.
  static absl::StatusOr<std::unique_ptr<Client>> FromEnvironment(
      ClientOptions options = {});

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Grants a lease. Retries UNAVAILABLE with exponential backoff, up to
  // ClientOptions::acquire_attempts, with the same request_id.
  // INVALID_ARGUMENT, RESOURCE_EXHAUSTED (pool busy, wait zero),
  // DEADLINE_EXCEEDED (waited `wait` in vain), UNAVAILABLE.
  absl::StatusOr<v1::Lease> Acquire(const AcquireSpec& spec) const;

  // Extends the lease to now + ttl (the lease's own ttl when zero).
  // NOT_FOUND when the lease is unknown, released or expired.
  absl::StatusOr<v1::Lease> Renew(const std::string& lease_id,
                                  absl::Duration ttl = absl::ZeroDuration(),
                                  absl::Duration timeout =
                                      absl::ZeroDuration()) const;

  // Ends the lease. NOT_FOUND when it is already gone. A zero timeout means
  // ClientOptions::rpc_timeout.
  absl::Status Release(const std::string& lease_id,
                       absl::Duration timeout = absl::ZeroDuration()) const;

  // One lease by its full id. NOT_FOUND when unknown.
  absl::StatusOr<v1::Lease> Get(const std::string& lease_id) const;

  // Live and draining leases whose owner matches every entry of `filter`.
  absl::StatusOr<std::vector<v1::Lease>> List(
      const OwnerMetadata& filter = {}) const;

  // Who holds each port, as the server sees it.
  absl::StatusOr<v1::WhoResponse> Who(const std::vector<uint32_t>& ports) const;

  // Pool counters and server version.
  absl::StatusOr<v1::StatusResponse> Status(
      absl::Duration timeout = absl::ZeroDuration()) const;

  // Admin calls: `admin_token` (the server's --admin_token_file) is sent as
  // call metadata "authorization: Bearer TOKEN". PERMISSION_DENIED for a
  // missing or wrong token, or a server without one.
  //
  // Ends the live lease whose id starts with `lease_id_prefix` (at least 8
  // characters) or, when the prefix is empty, the one holding `port`.
  // Returns it (id as a prefix only). INVALID_ARGUMENT, NOT_FOUND.
  absl::StatusOr<v1::Lease> ForceRelease(const std::string& lease_id_prefix,
                                         uint32_t port,
                                         const std::string& admin_token) const;
  // Takes a pool port out of service, or puts it back. INVALID_ARGUMENT
  // when the port is not in the pool.
  absl::Status DrainPort(uint32_t port, const std::string& admin_token) const;
  absl::Status UndrainPort(uint32_t port, const std::string& admin_token) const;
  // Replaces the server's pool and excluded ports (portleased's --pool and
  // --exclude syntax) until it restarts. INVALID_ARGUMENT, nothing changed,
  // for a bad or empty pool.
  absl::StatusOr<v1::SetPoolResponse> SetPool(
      const std::string& pool, const std::string& exclude,
      const std::string& admin_token) const;

  // The stub, for streaming calls (ScopedLease's Hold stream).
  v1::PortLease::Stub& stub() const { return *stub_; }
  const std::string& address() const { return address_; }
  const ClientOptions& options() const { return options_; }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::string address_;
  ClientOptions options_;
  std::unique_ptr<v1::PortLease::Stub> stub_;
};

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_INCLUDE_PORTLEASE_CLIENT_H_
