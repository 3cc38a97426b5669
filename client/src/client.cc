#include "portlease/client.h"

#include <cstdlib>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace portlease {

const char kClientVersion[] = PORTLEASE_VERSION;

namespace {

void SetDeadline(grpc::ClientContext& context, absl::Duration timeout) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

google::protobuf::Duration ToProto(absl::Duration d) {
  google::protobuf::Duration out;
  const int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d)));
  return out;
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
    : Client(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()),
             address, options) {}

absl::StatusOr<std::unique_ptr<Client>> Client::FromEnvironment(
    ClientOptions options) {
  const char* address = std::getenv("PORTLEASE_ADDR");
  if (address == nullptr || *address == '\0') {
    return absl::FailedPreconditionError("PORTLEASE_ADDR is not set");
  }
  return std::make_unique<Client>(std::string(address), options);
}

absl::StatusOr<v1::Lease> Client::Acquire(const AcquireSpec& spec) const {
  v1::AcquireRequest request;
  for (const std::string& name : spec.names) request.add_names(name);
  request.set_count(spec.count);
  if (spec.ttl > absl::ZeroDuration()) *request.mutable_ttl() = ToProto(spec.ttl);
  const OwnerMetadata owner = spec.owner.empty()
                                  ? BuildOwnerMetadata(CurrentProcessFacts())
                                  : spec.owner;
  for (const auto& [key, value] : owner) (*request.mutable_owner())[key] = value;
  request.set_request_id(spec.request_id.empty() ? RandomRequestId()
                                                 : spec.request_id);
  request.set_udp(spec.udp);
  const bool wait = spec.wait > absl::ZeroDuration();
  request.set_wait(wait);

  absl::Duration backoff = options_.initial_backoff;
  absl::Status last;
  for (int attempt = 0; attempt < std::max(1, options_.acquire_attempts);
       ++attempt) {
    if (attempt > 0) {
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
    grpc::ClientContext context;
    SetDeadline(context, wait ? spec.wait : options_.rpc_timeout);
    v1::AcquireResponse response;
    last = FromGrpcStatus(stub_->Acquire(&context, request, &response));
    if (last.ok()) return std::move(*response.mutable_lease());
    if (last.code() != absl::StatusCode::kUnavailable) return last;
  }
  return last;
}

absl::StatusOr<v1::Lease> Client::Renew(const std::string& lease_id,
                                        absl::Duration ttl,
                                        absl::Duration timeout) const {
  v1::RenewRequest request;
  request.set_lease_id(lease_id);
  if (ttl > absl::ZeroDuration()) *request.mutable_ttl() = ToProto(ttl);
  grpc::ClientContext context;
  SetDeadline(context,
              timeout > absl::ZeroDuration() ? timeout : options_.rpc_timeout);
  v1::RenewResponse response;
  absl::Status status =
      FromGrpcStatus(stub_->Renew(&context, request, &response));
  if (!status.ok()) return status;
  return std::move(*response.mutable_lease());
}

absl::Status Client::Release(const std::string& lease_id,
                             absl::Duration timeout) const {
  v1::ReleaseRequest request;
  request.set_lease_id(lease_id);
  grpc::ClientContext context;
  SetDeadline(context,
              timeout > absl::ZeroDuration() ? timeout : options_.rpc_timeout);
  v1::ReleaseResponse response;
  return FromGrpcStatus(stub_->Release(&context, request, &response));
}

absl::StatusOr<v1::Lease> Client::Get(const std::string& lease_id) const {
  v1::GetRequest request;
  request.set_lease_id(lease_id);
  grpc::ClientContext context;
  SetDeadline(context, options_.rpc_timeout);
  v1::GetResponse response;
  absl::Status status = FromGrpcStatus(stub_->Get(&context, request, &response));
  if (!status.ok()) return status;
  return std::move(*response.mutable_lease());
}

absl::StatusOr<std::vector<v1::Lease>> Client::List(
    const OwnerMetadata& filter) const {
  v1::ListRequest request;
  for (const auto& [key, value] : filter) {
    (*request.mutable_owner_filter())[key] = value;
  }
  grpc::ClientContext context;
  SetDeadline(context, options_.rpc_timeout);
  v1::ListResponse response;
  absl::Status status =
      FromGrpcStatus(stub_->List(&context, request, &response));
  if (!status.ok()) return status;
  return std::vector<v1::Lease>(response.leases().begin(),
                                response.leases().end());
}

absl::StatusOr<v1::WhoResponse> Client::Who(
    const std::vector<uint32_t>& ports) const {
  v1::WhoRequest request;
  for (uint32_t port : ports) request.add_ports(port);
  grpc::ClientContext context;
  SetDeadline(context, options_.rpc_timeout);
  v1::WhoResponse response;
  absl::Status status = FromGrpcStatus(stub_->Who(&context, request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::StatusResponse> Client::Status(
    absl::Duration timeout) const {
  grpc::ClientContext context;
  SetDeadline(context,
              timeout > absl::ZeroDuration() ? timeout : options_.rpc_timeout);
  v1::StatusResponse response;
  absl::Status status = FromGrpcStatus(
      stub_->Status(&context, v1::StatusRequest(), &response));
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
  grpc::ClientContext context;
  SetDeadline(context, options_.rpc_timeout);
  SetAdminToken(context, admin_token);
  v1::ForceReleaseResponse response;
  absl::Status status =
      FromGrpcStatus(stub_->ForceRelease(&context, request, &response));
  if (!status.ok()) return status;
  return std::move(*response.mutable_lease());
}

absl::Status Client::DrainPort(uint32_t port,
                               const std::string& admin_token) const {
  v1::DrainPortRequest request;
  request.set_port(port);
  grpc::ClientContext context;
  SetDeadline(context, options_.rpc_timeout);
  SetAdminToken(context, admin_token);
  v1::DrainPortResponse response;
  return FromGrpcStatus(stub_->DrainPort(&context, request, &response));
}

absl::Status Client::UndrainPort(uint32_t port,
                                 const std::string& admin_token) const {
  v1::UndrainPortRequest request;
  request.set_port(port);
  grpc::ClientContext context;
  SetDeadline(context, options_.rpc_timeout);
  SetAdminToken(context, admin_token);
  v1::UndrainPortResponse response;
  return FromGrpcStatus(stub_->UndrainPort(&context, request, &response));
}

absl::StatusOr<v1::SetPoolResponse> Client::SetPool(
    const std::string& pool, const std::string& exclude,
    const std::string& admin_token) const {
  v1::SetPoolRequest request;
  request.set_pool(pool);
  request.set_exclude(exclude);
  grpc::ClientContext context;
  SetDeadline(context, options_.rpc_timeout);
  SetAdminToken(context, admin_token);
  v1::SetPoolResponse response;
  absl::Status status =
      FromGrpcStatus(stub_->SetPool(&context, request, &response));
  if (!status.ok()) return status;
  return response;
}

}  // namespace portlease
