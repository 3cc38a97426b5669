// Conversions between the portlease.v1 wire types and the core's types:
// leases, requests, durations, timestamps and statuses. No domain rules live
// here; the LeaseManager validates what it is given.
//
//   absl::StatusOr<AcquireParams> params = AcquireParamsFromProto(request);
//   if (!params.ok()) return ToGrpcStatus(params.status());
//   ...
//   LeaseToProto(record, LeaseIdVisibility::kFull, response.mutable_lease());
//
// Stateless functions: thread-safe.
#ifndef PORTLEASE_SERVER_SERVICE_CONVERT_H_
#define PORTLEASE_SERVER_SERVICE_CONVERT_H_

#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/wire/proto_time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "grpcpp/support/status.h"
#include "portlease/v1/portlease.pb.h"
#include "server/core/lease.h"
#include "server/core/lease_store.h"
#include "server/core/acquire_params.h"

namespace portlease {

// Whether a converted lease carries its secret id.
enum class LeaseIdVisibility {
  // lease_id and lease_id_prefix: only for the lease's own holder
  // (Acquire, Renew, Get).
  kFull,
  // lease_id_prefix only (List, Who).
  kPrefixOnly,
};

// Fills `out` (cleared first) from `lease`.
void LeaseToProto(const LeaseRecord& lease, LeaseIdVisibility visibility,
                  v1::Lease* out);

// The request as core parameters. INVALID_ARGUMENT for a malformed ttl
// (seconds and nanos of different signs, nanos out of range); everything
// else is left to LeaseManager::Validate.
absl::StatusOr<AcquireParams> AcquireParamsFromProto(
    const v1::AcquireRequest& request);

// A holder's lease snapshot (RenewRequest/HoldRequest.reattach) for
// LeaseManager::Reattach: the id is `lease_id` (a snapshot naming another
// is INVALID_ARGUMENT); the client's peer_* owner entries are dropped and
// `peer_owner`'s (the server's word on who calls) put in their place;
// malformed durations are INVALID_ARGUMENT. Everything else is left to
// Reattach.
absl::StatusOr<LeaseRecord> SnapshotFromProto(const v1::Lease& lease,
                                              const std::string& lease_id,
                                              const Metadata& peer_owner);

// Durations and times: common/wire/proto_time.h (DurationFromProto,
// DurationToProto, TimeToProto, TimeFromProto), included here.

// An audit trail entry on the wire.
void EventToProto(const AuditEvent& event, v1::Event* out);

// The same code and message: absl and gRPC codes share numbers.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The time left until a gRPC deadline (system clock), at least zero;
// `cap` when the deadline is farther than that or infinite.
absl::Duration RemainingUntil(std::chrono::system_clock::time_point deadline,
                              absl::Duration cap);

// Checks that a lease id looks like one (non-empty, bounded): an empty id is
// INVALID_ARGUMENT; the manager answers NOT_FOUND for unknown ones.
absl::Status CheckLeaseIdField(const std::string& lease_id);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_SERVICE_CONVERT_H_
