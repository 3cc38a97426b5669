#include "portlease/client.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/wire/proto_time.h"
#include "grpcpp/client_context.h"
#include "lib/channel.h"
#include "portlease/address.h"
#include "portlease/version.h"

namespace portlease {

const char kClientVersion[] = PORTLEASE_VERSION_STRING;

namespace {

// How long one of several addresses may take to connect before the next
// one is tried.
constexpr absl::Duration kAddressConnectWait = absl::Seconds(1);

void SetDeadline(grpc::ClientContext& context, absl::Duration timeout) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

std::string RandomRequestId() {
  absl::BitGen gen;
  return absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(gen),
                         absl::Uniform<uint64_t>(gen));
}

Client::Client(std::shared_ptr<grpc::Channel> channel, std::string address,
               ClientOptions options)
    : addresses_({std::move(address)}), options_(options) {
  stubs_.push_back(v1::PortLease::NewStub(channel));
  channels_.push_back(std::move(channel));
}

Client::Client(std::string address, ClientOptions options)
    : Client(std::vector<std::string>{std::move(address)}, options) {}

Client::Client(std::vector<std::string> addresses, ClientOptions options)
    : addresses_(std::move(addresses)), options_(options) {
  if (addresses_.empty()) std::abort();  // a broken precondition
  channels_.resize(addresses_.size());
  stubs_.resize(addresses_.size());
}

absl::StatusOr<std::unique_ptr<Client>> Client::FromEnvironment(
    ClientOptions options) {
  const char* address = std::getenv("PORTLEASE_ADDR");
  if (address == nullptr || *address == '\0') {
    return absl::FailedPreconditionError("PORTLEASE_ADDR is not set");
  }
  absl::StatusOr<std::vector<std::string>> list = ParseAddressList(address);
  if (!list.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("PORTLEASE_ADDR: ", list.status().message()));
  }
  return std::make_unique<Client>(*std::move(list), options);
}

Client::Endpoint Client::EndpointAt(size_t index) const {
  absl::MutexLock lock(&endpoints_mu_);
  if (channels_[index] == nullptr) {
    channels_[index] =
        MakeChannel(addresses_[index], /*detect_hung=*/addresses_.size() > 1);
    stubs_[index] = v1::PortLease::NewStub(channels_[index]);
  }
  // Never replaced once made: usable after the lock is gone.
  return Endpoint{channels_[index].get(), stubs_[index].get()};
}

v1::PortLease::Stub& Client::stub() const { return *EndpointAt(current_).stub; }

const std::string& Client::address() const { return addresses_[current_]; }

bool Client::Reconnect(absl::Time until) const {
  grpc::Channel& channel = *EndpointAt(current_).channel;
  const grpc_connectivity_state state =
      channel.GetState(/*try_to_connect=*/true);
  channel.WaitForStateChange(state, absl::ToChronoTime(until));
  return state != GRPC_CHANNEL_READY &&
         channel.GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY;
}

void Client::FailOver(const std::string& from) const {
  for (size_t i = 0; i < addresses_.size(); ++i) {
    if (addresses_[i] != from) continue;
    size_t expected = i;
    current_.compare_exchange_strong(expected, (i + 1) % addresses_.size());
    return;
  }
}

void Client::Cancel() const {
  absl::MutexLock lock(&cancel_mu_);
  cancelled_ = true;
  for (grpc::ClientContext* context : in_flight_) context->TryCancel();
}

void Client::ClearCancellation() const {
  absl::MutexLock lock(&cancel_mu_);
  cancelled_ = false;
}

absl::Status Client::CheckCancelled() const {
  absl::MutexLock lock(&cancel_mu_);
  if (cancelled_) return absl::CancelledError("cancelled");
  return absl::OkStatus();
}

absl::Status Client::Unreachable(const absl::Status& last,
                                 absl::Duration waited) const {
  const std::string& address = addresses_.front();
  absl::Status problem = UnixSocketProblem(address);
  if (problem.code() == absl::StatusCode::kPermissionDenied) return problem;
  std::string reason;
  if (!problem.ok()) {
    reason = std::string(problem.message());
  } else if (!last.ok()) {
    reason = std::string(last.message());
  } else {
    reason = "it accepts connections but does not answer";
  }
  return absl::UnavailableError(absl::StrCat(
      "portleased at ", address, " still unreachable after ",
      absl::FormatDuration(waited), " (", reason, ")"));
}

absl::Status Client::UnreachableAll(const std::vector<absl::Status>& failures,
                                    absl::Duration waited) const {
  // Addresses that failed alike are named together: "a, b (reason)".
  std::vector<std::pair<std::string, std::vector<std::string>>> reasons;
  for (size_t i = 0; i < addresses_.size(); ++i) {
    absl::Status problem = UnixSocketProblem(addresses_[i]);
    std::string reason;
    if (!problem.ok()) {
      reason = std::string(problem.message());
    } else if (!failures[i].ok()) {
      reason = std::string(failures[i].message());
    } else {
      reason = "not tried before the deadline";
    }
    auto same = std::find_if(reasons.begin(), reasons.end(),
                             [&](const auto& r) { return r.first == reason; });
    if (same == reasons.end()) {
      reasons.push_back({reason, {addresses_[i]}});
    } else {
      same->second.push_back(addresses_[i]);
    }
  }
  std::vector<std::string> each;
  for (const auto& [reason, addresses] : reasons) {
    each.push_back(absl::StrCat(absl::StrJoin(addresses, ", "), " (", reason, ")"));
  }
  return absl::UnavailableError(absl::StrCat(
      "no portleased reachable after ", absl::FormatDuration(waited),
      " at any of ",
      addresses_.size(), " addresses: ", absl::StrJoin(each, "; ")));
}

absl::Status Client::RefusedByAll(
    const std::vector<absl::Status>& failures) const {
  std::vector<std::string> each;
  for (const absl::Status& failure : failures) {
    each.push_back(std::string(failure.message()));
  }
  return absl::PermissionDeniedError(
      absl::StrCat("every address refuses this user: ", absl::StrJoin(each, "; ")));
}

absl::Status Client::WaitForConnection(size_t index, absl::Time give_up) const {
  // A socket that refuses this user will not change its mind.
  absl::Status permission = UnixSocketPermission(addresses_[index]);
  if (!permission.ok()) return permission;
  if (addresses_.size() == 1) {
    // In short steps, so that Cancel() is noticed.
    grpc::Channel& channel = *EndpointAt(index).channel;
    while (!channel.WaitForConnected(absl::ToChronoTime(
        std::min(give_up, absl::Now() + absl::Milliseconds(100))))) {
      if (absl::Status c = CheckCancelled(); !c.ok()) return c;
      if (absl::Now() >= give_up) return absl::UnavailableError("timeout");
    }
    return absl::OkStatus();
  }
  return ConnectWithin(index,
                       std::min(give_up, absl::Now() + kAddressConnectWait));
}

absl::Status Client::ConnectWithin(size_t index, absl::Time limit) const {
  // A missing socket or one without a server fails at once: the next
  // address is tried instead of waiting.
  absl::Status problem = UnixSocketProblem(addresses_[index]);
  if (!problem.ok()) return absl::UnavailableError(problem.message());
  grpc::Channel& channel = *EndpointAt(index).channel;
  while (true) {
    const grpc_connectivity_state state =
        channel.GetState(/*try_to_connect=*/true);
    if (state == GRPC_CHANNEL_READY) return absl::OkStatus();
    // Waiting on the channel is also what moves its connection attempt on
    // (else only gRPC's backup poller does, every 5 s). In short steps, so
    // that Cancel() is noticed.
    channel.WaitForStateChange(
        state, absl::ToChronoTime(
                   std::min(limit, absl::Now() + absl::Milliseconds(100))));
    if (absl::Status c = CheckCancelled(); !c.ok()) return c;
    if (absl::Now() >= limit) break;
  }
  return absl::UnavailableError(absl::StrCat(
      "not connected within ", absl::FormatDuration(kAddressConnectWait)));
}

absl::Status Client::AwaitCurrent() const {
  return ConnectWithin(current_, absl::Now() + kAddressConnectWait);
}

absl::Status Client::CallOnce(v1::PortLease::Stub& stub, absl::Duration timeout,
                              const Rpc& rpc) const {
  grpc::ClientContext context;
  SetDeadline(context, timeout);
  {
    absl::MutexLock lock(&cancel_mu_);
    if (cancelled_) return absl::CancelledError("cancelled");
    in_flight_.insert(&context);
  }
  absl::Status status = FromGrpcStatus(rpc(stub, context));
  {
    absl::MutexLock lock(&cancel_mu_);
    in_flight_.erase(&context);
    if (cancelled_ && !status.ok()) return absl::CancelledError("cancelled");
  }
  return status;
}

void Client::Backoff(absl::Duration delay) const {
  absl::MutexLock lock(&cancel_mu_);
  cancel_mu_.AwaitWithTimeout(absl::Condition(&cancelled_), delay);
}

absl::Status Client::Call(absl::Duration timeout, const Rpc& rpc,
                          bool* maybe_applied, absl::Time bound,
                          bool server_waits) const {
  const bool retry = options_.connect_timeout > absl::ZeroDuration();
  const bool single = addresses_.size() == 1;
  // Set at the call's first connection error: retries stop here.
  absl::Time give_up = absl::InfiniteFuture();
  // How long the call tries to reach a server (its bound may cut it short).
  absl::Duration window = options_.connect_timeout;
  auto start_outage = [&] {
    if (give_up == absl::InfiniteFuture()) {
      const absl::Time now = absl::Now();
      give_up = std::min(now + options_.connect_timeout, bound);
      window = absl::Ceil(give_up - now, absl::Milliseconds(100));
    }
  };
  absl::Duration backoff = options_.initial_backoff;
  absl::Status last;
  // Why each address failed in this call.
  std::vector<absl::Status> failures(addresses_.size());
  const size_t first = current_;
  size_t index = first;
  while (true) {
    if (absl::Status cancelled = CheckCancelled(); !cancelled.ok()) {
      return cancelled;
    }
    const Endpoint endpoint = EndpointAt(index);
    absl::Status failed;
    if (retry && endpoint.channel->GetState(/*try_to_connect=*/true) !=
                     GRPC_CHANNEL_READY) {
      // Waiting for the connection first (instead of wait_for_ready) keeps
      // the call's own deadline for the call.
      start_outage();
      failed = WaitForConnection(index, give_up);
      if (failed.code() == absl::StatusCode::kCancelled) return failed;
      if (single && failed.code() == absl::StatusCode::kPermissionDenied) {
        return failed;
      }
      if (single && !failed.ok()) return Unreachable(last, window);
    }
    if (failed.ok()) {
      last = CallOnce(*endpoint.stub, timeout, rpc);
      // No answer from a connected server: it hangs; another may answer.
      const bool hung = !single && !server_waits &&
                        last.code() == absl::StatusCode::kDeadlineExceeded;
      if ((last.code() != absl::StatusCode::kUnavailable && !hung) ||
          (!retry && single)) {
        // The server answered (or this is the only attempt): it is current.
        if (last.code() != absl::StatusCode::kUnavailable) current_ = index;
        return last;
      }
      // The connection broke, the server could not commit or did not
      // answer: the request may have been applied.
      if (maybe_applied != nullptr) *maybe_applied = true;
      failed = last;
      start_outage();
      if (single) {
        if (absl::Now() >= give_up) return Unreachable(last, window);
        absl::Status permission = UnixSocketPermission(addresses_[index]);
        if (!permission.ok()) return permission;
      }
    }
    failures[index] = failed;
    index = (index + 1) % addresses_.size();
    if (index != first) continue;
    // A full round in vain. Sockets that all refuse this user will not
    // change their minds: no waiting.
    if (std::all_of(failures.begin(), failures.end(),
                    [](const absl::Status& s) {
                      return s.code() == absl::StatusCode::kPermissionDenied;
                    })) {
      return RefusedByAll(failures);
    }
    if (!retry || absl::Now() >= give_up) {
      return UnreachableAll(failures, window);
    }
    Backoff(std::min(backoff, give_up - absl::Now()));
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

absl::StatusOr<v1::Lease> Client::Acquire(const AcquireSpec& spec) const {
  absl::StatusOr<v1::AcquireResponse> granted = AcquireGrant(spec);
  if (!granted.ok()) return granted.status();
  return std::move(*granted->mutable_lease());
}

absl::StatusOr<v1::AcquireResponse> Client::AcquireGrant(
    const AcquireSpec& spec) const {
  v1::AcquireRequest request;
  for (const std::string& name : spec.names) request.add_names(name);
  request.set_count(spec.count);
  if (spec.ttl > absl::ZeroDuration()) DurationToProto(spec.ttl, request.mutable_ttl());
  // Servers on Unix sockets only: each records this process's user itself.
  const bool unix_only = std::all_of(
      addresses_.begin(), addresses_.end(),
      [](const std::string& a) { return absl::StartsWith(a, "unix:"); });
  const OwnerMetadata owner =
      spec.owner.empty()
          ? BuildOwnerMetadata(CurrentProcessFacts(
                unix_only ? UserLookup::kServer : UserLookup::kLocal))
          : spec.owner;
  for (const auto& [key, value] : owner) (*request.mutable_owner())[key] = value;
  // Built once: every retry sends the same request_id.
  request.set_request_id(spec.request_id.empty() ? RandomRequestId()
                                                 : spec.request_id);
  request.set_udp(spec.udp);
  request.set_hold(spec.hold);
  const bool wait = spec.wait > absl::ZeroDuration();
  request.set_wait(wait);
  v1::AcquireResponse response;
  absl::Status status =
      Call(wait ? spec.wait : options_.rpc_timeout,
           [&](v1::PortLease::Stub& stub, grpc::ClientContext& context) {
             return stub.Acquire(&context, request, &response);
           },
           nullptr, absl::InfiniteFuture(), /*server_waits=*/wait);
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::Lease> Client::Renew(const std::string& lease_id,
                                        absl::Duration ttl,
                                        absl::Duration timeout,
                                        uint64_t fencing_token) const {
  v1::RenewRequest request;
  request.set_lease_id(lease_id);
  request.set_fencing_token(fencing_token);
  if (ttl > absl::ZeroDuration()) DurationToProto(ttl, request.mutable_ttl());
  v1::RenewResponse response;
  absl::Status status =
      Call(timeout > absl::ZeroDuration() ? timeout : options_.rpc_timeout,
           [&](v1::PortLease::Stub& stub, grpc::ClientContext& context) {
             return stub.Renew(&context, request, &response);
           });
  if (!status.ok()) return status;
  return std::move(*response.mutable_lease());
}

absl::Status Client::Release(const std::string& lease_id,
                             absl::Duration timeout,
                             uint64_t fencing_token) const {
  v1::ReleaseRequest request;
  request.set_lease_id(lease_id);
  request.set_fencing_token(fencing_token);
  v1::ReleaseResponse response;
  bool maybe_applied = false;
  // An explicit timeout bounds the whole release, retries included (a
  // lease's destructor must not wait for the connect deadline).
  const bool bounded = timeout > absl::ZeroDuration();
  absl::Status status = Call(
      bounded ? timeout : options_.rpc_timeout,
      [&](v1::PortLease::Stub& stub, grpc::ClientContext& context) {
        return stub.Release(&context, request, &response);
      },
      &maybe_applied, bounded ? absl::Now() + timeout : absl::InfiniteFuture());
  // An earlier attempt released it and its answer was lost.
  if (maybe_applied && status.code() == absl::StatusCode::kNotFound) {
    return absl::OkStatus();
  }
  return status;
}

absl::StatusOr<v1::Lease> Client::Get(const std::string& lease_id) const {
  v1::GetRequest request;
  request.set_lease_id(lease_id);
  v1::GetResponse response;
  absl::Status status =
      Call(options_.rpc_timeout,
           [&](v1::PortLease::Stub& stub, grpc::ClientContext& context) {
             return stub.Get(&context, request, &response);
           });
  if (!status.ok()) return status;
  return std::move(*response.mutable_lease());
}

absl::StatusOr<std::vector<v1::Lease>> Client::List(
    const OwnerMetadata& filter) const {
  v1::ListRequest request;
  for (const auto& [key, value] : filter) {
    (*request.mutable_owner_filter())[key] = value;
  }
  // Page after page until the server says there is no more. Bounded: a
  // page holds at least one lease, and a pool has at most 65535 ports.
  std::vector<v1::Lease> leases;
  for (int page = 0; page < 65536; ++page) {
    v1::ListResponse response;
    absl::Status status =
        Call(options_.rpc_timeout,
             [&](v1::PortLease::Stub& stub, grpc::ClientContext& context) {
               return stub.List(&context, request, &response);
             });
    if (!status.ok()) return status;
    for (v1::Lease& lease : *response.mutable_leases()) {
      leases.push_back(std::move(lease));
    }
    // An older server has no pages: no token, everything in one reply.
    if (response.next_page_token().empty() ||
        response.next_page_token() == request.page_token()) {
      break;
    }
    request.set_page_token(response.next_page_token());
  }
  return leases;
}

absl::StatusOr<v1::EventsResponse> Client::Events(uint64_t after_seq,
                                                  absl::Time since,
                                                  uint32_t limit) const {
  v1::EventsRequest request;
  request.set_after_seq(after_seq);
  if (since != absl::InfinitePast()) {
    // Whole microseconds, as before.
    TimeToProto(absl::FromUnixMicros(absl::ToUnixMicros(since)),
                request.mutable_since());
  }
  request.set_limit(limit);
  v1::EventsResponse response;
  absl::Status status =
      Call(options_.rpc_timeout,
           [&](v1::PortLease::Stub& stub, grpc::ClientContext& context) {
             return stub.Events(&context, request, &response);
           });
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::WhoResponse> Client::Who(
    const std::vector<uint32_t>& ports) const {
  // The server answers at most this many ports per call: ask in batches.
  constexpr size_t kBatch = 256;
  v1::WhoResponse all;
  size_t begin = 0;
  do {
    v1::WhoRequest request;
    for (size_t i = begin; i < std::min(ports.size(), begin + kBatch); ++i) {
      request.add_ports(ports[i]);
    }
    v1::WhoResponse response;
    absl::Status status =
        Call(options_.rpc_timeout,
             [&](v1::PortLease::Stub& stub, grpc::ClientContext& context) {
               return stub.Who(&context, request, &response);
             });
    if (!status.ok()) return status;
    for (v1::PortInfo& info : *response.mutable_ports()) {
      *all.add_ports() = std::move(info);
    }
    begin += kBatch;
  } while (begin < ports.size());
  return all;
}

absl::StatusOr<v1::StatusResponse> Client::Status(
    absl::Duration timeout) const {
  v1::StatusResponse response;
  absl::Status status =
      Call(timeout > absl::ZeroDuration() ? timeout : options_.rpc_timeout,
           [&](v1::PortLease::Stub& stub, grpc::ClientContext& context) {
             return stub.Status(&context, v1::StatusRequest(), &response);
           });
  if (!status.ok()) return status;
  return response;
}

namespace {
void SetAdminToken(grpc::ClientContext& context, const std::string& token) {
  context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
}
}  // namespace

absl::StatusOr<v1::Lease> Client::ForceRelease(
    const std::string& lease_id_prefix, uint32_t port,
    const std::string& admin_token) const {
  v1::ForceReleaseRequest request;
  if (!lease_id_prefix.empty()) {
    request.set_lease_id_prefix(lease_id_prefix);
  } else {
    request.set_port(port);
  }
  v1::ForceReleaseResponse response;
  absl::Status status =
      Call(options_.rpc_timeout,
           [&](v1::PortLease::Stub& stub, grpc::ClientContext& context) {
             SetAdminToken(context, admin_token);
             return stub.ForceRelease(&context, request, &response);
           });
  if (!status.ok()) return status;
  return std::move(*response.mutable_lease());
}

absl::Status Client::DrainPort(uint32_t port,
                               const std::string& admin_token) const {
  v1::DrainPortRequest request;
  request.set_port(port);
  v1::DrainPortResponse response;
  return Call(options_.rpc_timeout,
              [&](v1::PortLease::Stub& stub, grpc::ClientContext& context) {
                SetAdminToken(context, admin_token);
                return stub.DrainPort(&context, request, &response);
              });
}

absl::Status Client::UndrainPort(uint32_t port,
                                 const std::string& admin_token) const {
  v1::UndrainPortRequest request;
  request.set_port(port);
  v1::UndrainPortResponse response;
  return Call(options_.rpc_timeout,
              [&](v1::PortLease::Stub& stub, grpc::ClientContext& context) {
                SetAdminToken(context, admin_token);
                return stub.UndrainPort(&context, request, &response);
              });
}

absl::StatusOr<v1::SetPoolResponse> Client::SetPool(
    const std::string& pool, const std::string& exclude,
    const std::string& admin_token) const {
  v1::SetPoolRequest request;
  request.set_pool(pool);
  request.set_exclude(exclude);
  v1::SetPoolResponse response;
  absl::Status status =
      Call(options_.rpc_timeout,
           [&](v1::PortLease::Stub& stub, grpc::ClientContext& context) {
             SetAdminToken(context, admin_token);
             return stub.SetPool(&context, request, &response);
           });
  if (!status.ok()) return status;
  return response;
}

}  // namespace portlease
