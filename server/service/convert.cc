#include "server/service/convert.h"

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace portlease {
namespace {

// Lease ids are 32 hex characters; anything much longer is not one.
constexpr size_t kMaxLeaseIdBytes = 256;

v1::LeaseState StateToProto(LeaseState state) {
  switch (state) {
    case LeaseState::kLive:
      return v1::LEASE_STATE_LIVE;
    case LeaseState::kDraining:
      return v1::LEASE_STATE_DRAINING;
  }
  return v1::LEASE_STATE_UNSPECIFIED;
}

}  // namespace

void LeaseToProto(const LeaseRecord& lease, LeaseIdVisibility visibility,
                  v1::Lease* out) {
  out->Clear();
  if (visibility == LeaseIdVisibility::kFull) out->set_lease_id(lease.id);
  out->set_lease_id_prefix(lease.IdPrefix());
  for (uint32_t i = 0; i < lease.count; ++i) {
    v1::PortAssignment* port = out->add_ports();
    if (i < lease.names.size()) port->set_name(lease.names[i]);
    port->set_port(uint32_t{lease.base} + i);
  }
  out->set_base_port(lease.base);
  out->set_count(lease.count);
  out->set_udp(lease.udp);
  for (const auto& [key, value] : lease.owner) {
    (*out->mutable_owner())[key] = value;
  }
  // The idempotency key is the holder's business only (it is scoped to
  // the caller, but still says what the holder's requests look like).
  if (visibility == LeaseIdVisibility::kFull) {
    out->set_request_id(lease.request_id);
  }
  TimeToProto(lease.created_at, out->mutable_created_at());
  TimeToProto(lease.expires_at, out->mutable_expires_at());
  DurationToProto(lease.ttl, out->mutable_ttl());
  out->set_state(StateToProto(lease.state));
  out->set_fencing_token(lease.fencing_token);
}

absl::StatusOr<AcquireParams> AcquireParamsFromProto(
    const v1::AcquireRequest& request) {
  AcquireParams params;
  params.names.assign(request.names().begin(), request.names().end());
  params.count = request.count();
  if (request.has_ttl()) {
    absl::StatusOr<absl::Duration> ttl =
        DurationFromProto(request.ttl(), "ttl");
    if (!ttl.ok()) return ttl.status();
    params.ttl = *ttl;
  }
  for (const auto& [key, value] : request.owner()) params.owner[key] = value;
  params.request_id = request.request_id();
  params.udp = request.udp();
  params.hold = request.hold();
  return params;
}

absl::StatusOr<LeaseRecord> SnapshotFromProto(const v1::Lease& lease,
                                              const std::string& lease_id,
                                              const Metadata& peer_owner) {
  if (!lease.lease_id().empty() && lease.lease_id() != lease_id) {
    return absl::InvalidArgumentError(
        "reattach: the snapshot names another lease than lease_id");
  }
  LeaseRecord record;
  record.id = lease_id;
  bool named = lease.ports_size() > 0;
  for (const v1::PortAssignment& port : lease.ports()) {
    named = named && !port.name().empty();
  }
  if (named) {
    for (const v1::PortAssignment& port : lease.ports()) {
      record.names.push_back(port.name());
    }
  }
  uint32_t base = lease.base_port();
  if (base == 0 && lease.ports_size() > 0) base = lease.ports(0).port();
  if (base > 65535) {
    return absl::InvalidArgumentError("reattach: base_port is not a port");
  }
  record.base = static_cast<Port>(base);
  record.count = lease.count() != 0
                     ? lease.count()
                     : static_cast<uint32_t>(lease.ports_size());
  record.udp = lease.udp();
  for (const auto& [key, value] : lease.owner()) {
    if (!absl::StartsWith(key, "peer_")) record.owner[key] = value;
  }
  for (const auto& [key, value] : peer_owner) record.owner[key] = value;
  if (lease.has_ttl()) {
    absl::StatusOr<absl::Duration> ttl =
        DurationFromProto(lease.ttl(), "reattach.ttl");
    if (!ttl.ok()) return ttl.status();
    record.ttl = *ttl;
  }
  if (lease.has_created_at()) record.created_at = TimeFromProto(lease.created_at());
  if (lease.has_expires_at()) record.expires_at = TimeFromProto(lease.expires_at());
  return record;
}

void EventToProto(const AuditEvent& event, v1::Event* out) {
  out->set_seq(event.seq);
  TimeToProto(event.at, out->mutable_at());
  out->set_type(event.type);
  out->set_lease_id_prefix(event.lease);
  out->set_base_port(event.base);
  out->set_count(event.count);
  out->mutable_owner()->insert(event.owner.begin(), event.owner.end());
  out->set_port(event.port);
  out->set_by(event.by);
  out->set_privilege(event.privilege);
  out->set_detail(event.detail);
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::Duration RemainingUntil(std::chrono::system_clock::time_point deadline,
                              absl::Duration cap) {
  if (deadline == std::chrono::system_clock::time_point::max()) return cap;
  const absl::Duration left =
      absl::FromChrono(deadline) -
      absl::FromChrono(std::chrono::system_clock::now());
  if (left < absl::ZeroDuration()) return absl::ZeroDuration();
  return left < cap ? left : cap;
}

absl::Status CheckLeaseIdField(const std::string& lease_id) {
  if (lease_id.empty()) {
    return absl::InvalidArgumentError("lease_id is required");
  }
  if (lease_id.size() > kMaxLeaseIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lease_id is ", lease_id.size(), " bytes; lease ids are 32"));
  }
  return absl::OkStatus();
}

}  // namespace portlease
