#include "portlease/client.h"

#include <algorithm>
#include <errno.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/wire/proto_time.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "portlease/version.h"

namespace portlease {

const char kClientVersion[] = PORTLEASE_VERSION_STRING;

namespace {

void SetDeadline(grpc::ClientContext& context, absl::Duration timeout) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

// A restarted server is found within this long (gRPC's default backoff
// grows to two minutes).
constexpr int kMaxReconnectBackoffMs = 500;

// How long one connection attempt may take (gRPC reads its minimum connect
// timeout from GRPC_ARG_MIN_RECONNECT_BACKOFF_MS). With the backoff's own
// 100-500 ms, a loaded host whose handshake takes longer than that never
// got through; a refused connection (no server yet) still fails at once
// and is retried after the backoff.
constexpr int kMinConnectTimeoutMs = 5000;

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kMinConnectTimeoutMs);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

// Why a Unix socket cannot be used, seen by a plain non-blocking connect();
// OK when it accepts connections (or `address` is not a Unix socket).
absl::Status UnixSocketProblem(const std::string& address) {
  if (!absl::StartsWith(address, "unix:")) return absl::OkStatus();
  const std::string path = address.substr(5);
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return absl::OkStatus();
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::OkStatus();
  const int rc =
      connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int error = rc == 0 ? 0 : errno;
  close(fd);
  switch (error) {
    case 0:
      return absl::OkStatus();
    case ENOENT:
    case ENOTDIR:
      return absl::UnavailableError(absl::StrCat("no socket at ", path));
    case ECONNREFUSED:
      return absl::UnavailableError(
          absl::StrCat("connection refused at ", path, " (no server)"));
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(
          absl::StrCat("permission denied connecting to ", path));
    case EAGAIN:
      return absl::UnavailableError(
          absl::StrCat(path, ": the server does not accept connections"));
    default:
      return absl::UnavailableError(
          absl::StrCat("connect to ", path, ": ", std::strerror(error)));
  }
}

// PERMISSION_DENIED when this user may not connect to the Unix socket of
// `address` (checked with access(), which does not disturb the server).
absl::Status UnixSocketPermission(const std::string& address) {
  if (!absl::StartsWith(address, "unix:")) return absl::OkStatus();
  const std::string path = address.substr(5);
  if (access(path.c_str(), R_OK | W_OK) != 0 && errno == EACCES) {
    std::string fix = "ask the socket's owner for access";
    struct stat st;
    if (stat(path.c_str(), &st) == 0) {
      if (const struct group* g = getgrgid(st.st_gid); g != nullptr) {
        fix = absl::StrCat("join its group ", g->gr_name, " (usermod -aG ",
                           g->gr_name, " $USER, then log in again)");
      }
    }
    return absl::PermissionDeniedError(absl::StrCat(
        "permission denied connecting to ", path, ": ", fix));
  }
  return absl::OkStatus();
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
    : channel_(std::move(channel)),
      address_(std::move(address)),
      options_(options),
      stub_(v1::PortLease::NewStub(channel_)) {}

Client::Client(std::string address, ClientOptions options)
    : Client(MakeChannel(address), address, options) {}

absl::StatusOr<std::unique_ptr<Client>> Client::FromEnvironment(
    ClientOptions options) {
  const char* address = std::getenv("PORTLEASE_ADDR");
  if (address == nullptr || *address == '\0') {
    return absl::FailedPreconditionError("PORTLEASE_ADDR is not set");
  }
  return std::make_unique<Client>(std::string(address), options);
}

void Client::Reconnect() const { channel_->GetState(/*try_to_connect=*/true); }

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

absl::Status Client::Unreachable(const absl::Status& last) const {
  absl::Status problem = UnixSocketProblem(address_);
  if (problem.code() == absl::StatusCode::kPermissionDenied) return problem;
  std::string reason;
  if (!problem.ok()) {
    reason = std::string(problem.message());
  } else if (!last.ok()) {
    reason = std::string(last.message());
  } else {
    reason = "it accepts connections but does not answer";
  }
  return absl::UnavailableError(
      absl::StrCat("portleased at ", address_, " still unreachable after ",
                   absl::FormatDuration(options_.connect_timeout), " (",
                   reason, ")"));
}

absl::Status Client::Call(
    absl::Duration timeout,
    const std::function<grpc::Status(grpc::ClientContext&)>& rpc,
    bool* maybe_applied, absl::Time bound) const {
  const bool retry = options_.connect_timeout > absl::ZeroDuration();
  // Set at the call's first connection error: retries stop here.
  absl::Time give_up = absl::InfiniteFuture();
  bool outage = false;
  auto start_outage = [&] {
    if (!outage) {
      outage = true;
      give_up = std::min(absl::Now() + options_.connect_timeout, bound);
    }
  };
  absl::Duration backoff = options_.initial_backoff;
  absl::Status last;
  while (true) {
    if (absl::Status cancelled = CheckCancelled(); !cancelled.ok()) {
      return cancelled;
    }
    if (retry &&
        channel_->GetState(/*try_to_connect=*/true) != GRPC_CHANNEL_READY) {
      // Waiting for the connection first (instead of wait_for_ready) keeps
      // the call's own deadline for the call.
      start_outage();
      // A socket that refuses this user will not change its mind.
      absl::Status permission = UnixSocketPermission(address_);
      if (!permission.ok()) return permission;
      // In short steps, so that Cancel() is noticed.
      bool connected = false;
      while (!connected) {
        const absl::Time step =
            std::min(give_up, absl::Now() + absl::Milliseconds(100));
        connected = channel_->WaitForConnected(absl::ToChronoTime(step));
        if (absl::Status c = CheckCancelled(); !c.ok()) return c;
        if (!connected && absl::Now() >= give_up) return Unreachable(last);
      }
    }
    grpc::ClientContext context;
    SetDeadline(context, timeout);
    {
      absl::MutexLock lock(&cancel_mu_);
      if (cancelled_) return absl::CancelledError("cancelled");
      in_flight_.insert(&context);
    }
    last = FromGrpcStatus(rpc(context));
    {
      absl::MutexLock lock(&cancel_mu_);
      in_flight_.erase(&context);
      if (cancelled_ && !last.ok()) return absl::CancelledError("cancelled");
    }
    if (!retry || last.code() != absl::StatusCode::kUnavailable) return last;
    // The connection broke (or the server could not commit): the request
    // may have been applied.
    if (maybe_applied != nullptr) *maybe_applied = true;
    start_outage();
    if (absl::Now() >= give_up) return Unreachable(last);
    absl::Status permission = UnixSocketPermission(address_);
    if (!permission.ok()) return permission;
    {
      absl::MutexLock lock(&cancel_mu_);
      cancel_mu_.AwaitWithTimeout(absl::Condition(&cancelled_),
                                  std::min(backoff, give_up - absl::Now()));
    }
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
  const OwnerMetadata owner = spec.owner.empty()
                                  ? BuildOwnerMetadata(CurrentProcessFacts())
                                  : spec.owner;
  for (const auto& [key, value] : owner) (*request.mutable_owner())[key] = value;
  // Built once: every retry sends the same request_id.
  request.set_request_id(spec.request_id.empty() ? RandomRequestId()
                                                 : spec.request_id);
  request.set_udp(spec.udp);
  const bool wait = spec.wait > absl::ZeroDuration();
  request.set_wait(wait);
  v1::AcquireResponse response;
  absl::Status status =
      Call(wait ? spec.wait : options_.rpc_timeout,
           [&](grpc::ClientContext& context) {
             return stub_->Acquire(&context, request, &response);
           });
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::Lease> Client::Renew(const std::string& lease_id,
                                        absl::Duration ttl,
                                        absl::Duration timeout) const {
  v1::RenewRequest request;
  request.set_lease_id(lease_id);
  if (ttl > absl::ZeroDuration()) DurationToProto(ttl, request.mutable_ttl());
  v1::RenewResponse response;
  absl::Status status = Call(
      timeout > absl::ZeroDuration() ? timeout : options_.rpc_timeout,
      [&](grpc::ClientContext& context) {
        return stub_->Renew(&context, request, &response);
      });
  if (!status.ok()) return status;
  return std::move(*response.mutable_lease());
}

absl::Status Client::Release(const std::string& lease_id,
                             absl::Duration timeout) const {
  v1::ReleaseRequest request;
  request.set_lease_id(lease_id);
  v1::ReleaseResponse response;
  bool maybe_applied = false;
  // An explicit timeout bounds the whole release, retries included (a
  // lease's destructor must not wait for the connect deadline).
  const bool bounded = timeout > absl::ZeroDuration();
  absl::Status status = Call(
      bounded ? timeout : options_.rpc_timeout,
      [&](grpc::ClientContext& context) {
        return stub_->Release(&context, request, &response);
      },
      &maybe_applied,
      bounded ? absl::Now() + timeout : absl::InfiniteFuture());
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
      Call(options_.rpc_timeout, [&](grpc::ClientContext& context) {
        return stub_->Get(&context, request, &response);
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
        Call(options_.rpc_timeout, [&](grpc::ClientContext& context) {
          return stub_->List(&context, request, &response);
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
      Call(options_.rpc_timeout, [&](grpc::ClientContext& context) {
        return stub_->Events(&context, request, &response);
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
        Call(options_.rpc_timeout, [&](grpc::ClientContext& context) {
          return stub_->Who(&context, request, &response);
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
  absl::Status status = Call(
      timeout > absl::ZeroDuration() ? timeout : options_.rpc_timeout,
      [&](grpc::ClientContext& context) {
        return stub_->Status(&context, v1::StatusRequest(), &response);
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
      Call(options_.rpc_timeout, [&](grpc::ClientContext& context) {
        SetAdminToken(context, admin_token);
        return stub_->ForceRelease(&context, request, &response);
      });
  if (!status.ok()) return status;
  return std::move(*response.mutable_lease());
}

absl::Status Client::DrainPort(uint32_t port,
                               const std::string& admin_token) const {
  v1::DrainPortRequest request;
  request.set_port(port);
  v1::DrainPortResponse response;
  return Call(options_.rpc_timeout, [&](grpc::ClientContext& context) {
    SetAdminToken(context, admin_token);
    return stub_->DrainPort(&context, request, &response);
  });
}

absl::Status Client::UndrainPort(uint32_t port,
                                 const std::string& admin_token) const {
  v1::UndrainPortRequest request;
  request.set_port(port);
  v1::UndrainPortResponse response;
  return Call(options_.rpc_timeout, [&](grpc::ClientContext& context) {
    SetAdminToken(context, admin_token);
    return stub_->UndrainPort(&context, request, &response);
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
      Call(options_.rpc_timeout, [&](grpc::ClientContext& context) {
        SetAdminToken(context, admin_token);
        return stub_->SetPool(&context, request, &response);
      });
  if (!status.ok()) return status;
  return response;
}

}  // namespace portlease
