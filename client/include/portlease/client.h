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
// Riding out a restart: every unary call retries connection errors (no
// socket, connection refused or reset, UNAVAILABLE) with backoff until the
// server has been unreachable for ClientOptions::connect_timeout, counted
// from the call's first connection error. A retried call is the same
// request: Acquire keeps its request_id, so the server returns the lease it
// granted before instead of a second one; Renew is idempotent; a Release
// whose earlier attempt may have reached the server counts NOT_FOUND as
// released. When the server is still unreachable at the deadline the call
// fails with UNAVAILABLE, one line naming the address and the reason ("no
// socket at PATH", "connection refused", ...), or PERMISSION_DENIED when
// the socket refuses this user (not retried).
//
// Several addresses (replicas sharing one state, or a server that may
// come back elsewhere): one channel per address, made on first use. Calls
// go to the current address; a connection error there (no socket, refused,
// reset, a connection attempt that fails or, for a host that never
// answers, gRPC's 5 s connect timeout; UNAVAILABLE from the call; a socket
// refusing this user) moves to the next address in order, wrapping around,
// with the backoff above applied once per full round, until
// connect_timeout. The address that answered stays current. Answers of
// the server (NOT_FOUND, RESOURCE_EXHAUSTED, PERMISSION_DENIED, ...) are
// returned as is, never retried elsewhere. A call that got no answer
// within its deadline from a connected server (a hung or stopped replica)
// also moves on, with its deadline afresh, unless it is an Acquire waiting
// for ports (its deadline is the wait's): retrying elsewhere is safe for
// replicas of one state, as an Acquire's retries carry its request_id and
// Renew and Release their lease's fencing token. With one address it is
// returned as is. At connect_timeout: UNAVAILABLE, one line naming every
// address and why it failed.
//
// Thread-safe: all methods may be called concurrently.
#ifndef PORTLEASE_CLIENT_INCLUDE_PORTLEASE_CLIENT_H_
#define PORTLEASE_CLIENT_INCLUDE_PORTLEASE_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
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
  // How long a call keeps retrying while the server cannot be reached
  // (PORTLEASE_CONNECT_TIMEOUT / --connect-timeout in the programs). Zero:
  // one attempt, no retries.
  absl::Duration connect_timeout = absl::Seconds(10);
  // Delay before the first retry; doubles up to max_backoff.
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Milliseconds(500);
};

// What to acquire. Exactly one of names / count.
struct AcquireSpec {
  // Port names, in order; each [a-z][a-z0-9_-]{0,31}.
  std::vector<std::string> names;
  // Number of unnamed ports.
  uint32_t count = 0;
  // Time to live; zero means the server's default.
  absl::Duration ttl = absl::ZeroDuration();
  // Owner metadata; when empty, BuildOwnerMetadata(CurrentProcessFacts()),
  // whose "user" the server fills in when every address is a Unix socket.
  OwnerMetadata owner;
  // Idempotency key; when empty a random one is generated. Retries of this
  // Acquire reuse it, so a retry never grants a second lease.
  std::string request_id;
  // Also require the ports free for UDP.
  bool udp = false;
  // When positive, queue up to this long when the pool is busy instead of
  // failing with RESOURCE_EXHAUSTED (the call's deadline is then `wait`).
  absl::Duration wait = absl::ZeroDuration();
  // The caller opens a Hold stream on the lease at once (ScopedLease sets
  // it): see AcquireRequest.hold. A lease asked for with `hold` and never
  // held is reclaimed after 10 s.
  bool hold = false;
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
  // Connects (lazily) to `address`: "unix:/path" or "host:port". The
  // channel reconnects within half a second once the server is back.
  explicit Client(std::string address, ClientOptions options = {});
  // Fails over between `addresses` (see above), in this order; each as for
  // the single address. At least one (ParseAddressList makes the list).
  explicit Client(std::vector<std::string> addresses,
                  ClientOptions options = {});

  // A client for $PORTLEASE_ADDR (one address or a list). FAILED_PRECONDITION
  // when it is unset, INVALID_ARGUMENT when it is not a valid list.
  static absl::StatusOr<std::unique_ptr<Client>> FromEnvironment(
      ClientOptions options = {});

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Grants a lease. Retries connection errors (see above) with the same
  // request_id, so at most one lease is granted.
  // INVALID_ARGUMENT, RESOURCE_EXHAUSTED (pool busy, wait zero),
  // DEADLINE_EXCEEDED (waited `wait` in vain), UNAVAILABLE.
  absl::StatusOr<v1::Lease> Acquire(const AcquireSpec& spec) const;
  // The same, with the whole reply: the lease and the server's hold grace.
  absl::StatusOr<v1::AcquireResponse> AcquireGrant(
      const AcquireSpec& spec) const;

  // Extends the lease to now + ttl (the lease's own ttl when zero).
  // NOT_FOUND when the lease is unknown, released or expired, or when a
  // nonzero `fencing_token` (v1::Lease::fencing_token, as granted) is not
  // the lease's: replicated servers granted the id again.
  absl::StatusOr<v1::Lease> Renew(const std::string& lease_id,
                                  absl::Duration ttl = absl::ZeroDuration(),
                                  absl::Duration timeout = absl::ZeroDuration(),
                                  uint64_t fencing_token = 0) const;

  // Ends the lease. NOT_FOUND when it is already gone (but OK when an
  // earlier attempt of this call may have released it). A zero timeout means
  // ClientOptions::rpc_timeout; a nonzero one also bounds the retries.
  // `fencing_token` as for Renew: a lease granted again is not released.
  absl::Status Release(const std::string& lease_id,
                       absl::Duration timeout = absl::ZeroDuration(),
                       uint64_t fencing_token = 0) const;

  // One lease by its full id. NOT_FOUND when unknown.
  absl::StatusOr<v1::Lease> Get(const std::string& lease_id) const;

  // Live and draining leases whose owner matches every entry of `filter`,
  // by base port. Follows the server's pages (ListResponse.next_page_token)
  // to the last, so every lease is there, whatever their number.
  absl::StatusOr<std::vector<v1::Lease>> List(
      const OwnerMetadata& filter = {}) const;

  // Who holds each port, as the server sees it.
  // Asks in batches of at most 256 ports (the server's limit per call).
  absl::StatusOr<v1::WhoResponse> Who(const std::vector<uint32_t>& ports) const;

  // One page of the audit trail: events after `after_seq` and at or after
  // `since`, oldest first, at most `limit` (0: the server's default).
  // UNIMPLEMENTED from a server that keeps no trail.
  absl::StatusOr<v1::EventsResponse> Events(
      uint64_t after_seq, absl::Time since = absl::InfinitePast(),
      uint32_t limit = 0) const;

  // Pool counters and server version.
  absl::StatusOr<v1::StatusResponse> Status(
      absl::Duration timeout = absl::ZeroDuration()) const;

  // Admin calls: `admin_token` (the server's --admin-token-file) is sent as
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

  // The current address's stub, for streaming calls (ScopedLease's Hold
  // stream).
  v1::PortLease::Stub& stub() const;
  // The current address: the one that answered last (the first before).
  const std::string& address() const;
  // Every address, in failover order.
  const std::vector<std::string>& addresses() const { return addresses_; }
  const ClientOptions& options() const { return options_; }

  // Asks the current address's channel to connect now (it may be backing
  // off after a failure) and waits on it until it is connected, its state
  // changes, or `until`. Waiting is what moves a connection attempt on
  // (reading the server's first frames); without a call or a waiter only
  // gRPC's backup poller does, every 5 s. True when it became connected
  // while waiting; a channel connected throughout waits until `until`.
  bool Reconnect(absl::Time until) const;
  // With several addresses: waits up to a second for the current address
  // to be connected (this also moves its connection attempt on), so that a
  // stream opened next through stub() finds it ready. UNAVAILABLE (why)
  // when it is not: at once for a Unix socket that is missing or refuses
  // connections.
  absl::Status AwaitCurrent() const;
  // A stream through stub() to address `from` broke on a connection error:
  // the next address becomes current, unless another caller moved on from
  // `from` already. Nothing with a single address.
  void FailOver(const std::string& from) const;

  // Cancels the unary calls in flight (an Acquire waiting for ports, a
  // call waiting for the server) and every call made until
  // ClearCancellation(): they return CANCELLED. A waiting Acquire leaves
  // the server's queue. Safe from any thread (e.g. one watching signals).
  void Cancel() const;
  void ClearCancellation() const;

 private:
  using Rpc =
      std::function<grpc::Status(v1::PortLease::Stub&, grpc::ClientContext&)>;
  struct Endpoint {
    grpc::Channel* channel;
    v1::PortLease::Stub* stub;
  };

  // One unary call through `rpc`, retried as described above, but never
  // past `bound`. Sets *maybe_applied when an attempt failed after it may
  // have reached the server. `server_waits`: the deadline is an answer
  // (a waiting Acquire's), not a sign of a hung server.
  absl::Status Call(absl::Duration timeout, const Rpc& rpc,
                    bool* maybe_applied = nullptr,
                    absl::Time bound = absl::InfiniteFuture(),
                    bool server_waits = false) const;
  // One attempt at address `index`: OK once its channel is connected;
  // CANCELLED; PERMISSION_DENIED or UNAVAILABLE (why) when it cannot be
  // used: a single address is waited for until `give_up`, one of several
  // for a second at most (see ConnectWithin).
  absl::Status WaitForConnection(size_t index, absl::Time give_up) const;
  // Waits until `limit` for address `index` to be connected; UNAVAILABLE at
  // once when it is a Unix socket that is missing or has no server.
  absl::Status ConnectWithin(size_t index, absl::Time limit) const;
  // The call itself, registered for Cancel().
  absl::Status CallOnce(v1::PortLease::Stub& stub, absl::Duration timeout,
                        const Rpc& rpc) const;
  // Waits `delay` (less when cancelled).
  void Backoff(absl::Duration delay) const;
  // The error for a server unreachable for `waited` (connect_timeout, or
  // less when the call's bound came first); `last` is the last call's
  // status (OK when no call was made).
  absl::Status Unreachable(const absl::Status& last,
                           absl::Duration waited) const;
  // The same for several addresses; `failures` holds why each failed.
  absl::Status UnreachableAll(const std::vector<absl::Status>& failures,
                              absl::Duration waited) const;
  // PERMISSION_DENIED naming each address and what to do.
  absl::Status RefusedByAll(const std::vector<absl::Status>& failures) const;

  // CANCELLED after Cancel(), else OK.
  absl::Status CheckCancelled() const;

  // The channel and stub of address `index`, made on first use.
  Endpoint EndpointAt(size_t index) const;

  const std::vector<std::string> addresses_;
  ClientOptions options_;
  // Index into addresses_ of the current address.
  mutable std::atomic<size_t> current_{0};
  mutable absl::Mutex endpoints_mu_;
  mutable std::vector<std::shared_ptr<grpc::Channel>> channels_
      ABSL_GUARDED_BY(endpoints_mu_);
  mutable std::vector<std::unique_ptr<v1::PortLease::Stub>> stubs_
      ABSL_GUARDED_BY(endpoints_mu_);

  mutable absl::Mutex cancel_mu_;
  mutable bool cancelled_ ABSL_GUARDED_BY(cancel_mu_) = false;
  mutable std::set<grpc::ClientContext*> in_flight_ ABSL_GUARDED_BY(cancel_mu_);
};

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_INCLUDE_PORTLEASE_CLIENT_H_
