// The service's stateful RPCs as gRPC callback reactors. Internal to the
// service layer: PortLeaseService creates them; each deletes itself in
// OnDone.
#ifndef PORTLEASE_SERVER_SERVICE_REACTORS_H_
#define PORTLEASE_SERVER_SERVICE_REACTORS_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "portlease/v1/portlease.grpc.pb.h"
#include "server/core/lease_backend.h"

namespace portlease {

// Acquire with wait=true: queued in the manager until `deadline`
// (monotonic), finished from the manager's callback, cancelled with the RPC.
class AcquireWaitReactor : public grpc::ServerUnaryReactor {
 public:
  // Queues the request. Call once, from the RPC handler, before returning
  // the reactor to gRPC.
  // `on_done`, when set, runs with the result's status just before Finish.
  static AcquireWaitReactor* Start(
      LeaseBackend* manager, AcquireParams params, absl::Duration deadline,
      v1::AcquireResponse* response,
      std::function<void(const absl::Status&)> on_done = nullptr);

  void OnCancel() override;
  void OnDone() override { delete this; }

 private:
  AcquireWaitReactor(LeaseBackend* manager, v1::AcquireResponse* response,
                     std::function<void(const absl::Status&)> on_done)
      : manager_(manager), response_(response), on_done_(std::move(on_done)) {}
  void Complete(absl::StatusOr<LeaseRecord> result);

  LeaseBackend* const manager_;
  v1::AcquireResponse* const response_;
  const std::function<void(const absl::Status&)> on_done_;
  absl::Mutex mu_;
  // 0 until AcquireOrWait returned, and when it completed at once.
  uint64_t ticket_ ABSL_GUARDED_BY(mu_) = 0;
  bool queued_ ABSL_GUARDED_BY(mu_) = false;  // ticket_ is valid
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool completed_ ABSL_GUARDED_BY(mu_) = false;
};

// Hold: the first request attaches a holder to its lease; every request is
// answered with the lease's expiry; the holder is detached once, in OnDone.
// Reads and writes alternate, so at most one operation is in flight.
class HoldReactor
    : public grpc::ServerBidiReactor<v1::HoldRequest, v1::HoldResponse> {
 public:
  // A stream refused up front (`admitted` not OK) finishes with that
  // status at once. `caller` attaches and reads the lease (its own, unless
  // privileged: LeaseBackend::AttachHolder). Every message after the first
  // (which the stream's own admission paid for) is passed through
  // `admit_message`, the caller's rate limit: when it refuses, the stream
  // ends with its status (RESOURCE_EXHAUSTED). A first request for a lease
  // the manager does not know, carrying a snapshot (`reattach`), re-creates
  // it (LeaseBackend::Reattach) with `peer_owner` as its peer_* entries.
  HoldReactor(LeaseBackend* manager, const absl::Status& admitted,
              Principal caller,
              absl::AnyInvocable<absl::Status()> admit_message,
              Metadata peer_owner = {});

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  // Answers the request just read; false when the stream was finished.
  bool Answer();

  LeaseBackend* const manager_;
  const Principal caller_;
  absl::AnyInvocable<absl::Status()> admit_message_;
  const Metadata peer_owner_;
  v1::HoldRequest request_;
  v1::HoldResponse response_;
  // Touched only by the (serialized) reactions and OnDone.
  std::string lease_id_;
  bool attached_ = false;
  bool first_read_ = true;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_SERVICE_REACTORS_H_
