// The service's stateful RPCs as gRPC callback reactors. Internal to the
// service layer: PortLeaseService creates them; each deletes itself in
// OnDone.
#ifndef PORTLEASE_SERVER_SERVICE_REACTORS_H_
#define PORTLEASE_SERVER_SERVICE_REACTORS_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "portlease/v1/portlease.grpc.pb.h"
#include "server/core/lease_manager.h"

namespace portlease {

// Acquire with wait=true: queued in the manager until `deadline`
// (monotonic), finished from the manager's callback, cancelled with the RPC.
class AcquireWaitReactor : public grpc::ServerUnaryReactor {
 public:
  // Queues the request. Call once, from the RPC handler, before returning
  // the reactor to gRPC.
  static AcquireWaitReactor* Start(LeaseManager* manager, AcquireParams params,
                                   absl::Duration deadline,
                                   v1::AcquireResponse* response);

  void OnCancel() override;
  void OnDone() override { delete this; }

 private:
  AcquireWaitReactor(LeaseManager* manager, v1::AcquireResponse* response)
      : manager_(manager), response_(response) {}
  void Complete(absl::StatusOr<LeaseRecord> result);

  LeaseManager* const manager_;
  v1::AcquireResponse* const response_;
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
  explicit HoldReactor(LeaseManager* manager);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  // Answers the request just read; false when the stream was finished.
  bool Answer();

  LeaseManager* const manager_;
  v1::HoldRequest request_;
  v1::HoldResponse response_;
  // Touched only by the (serialized) reactions and OnDone.
  std::string lease_id_;
  bool attached_ = false;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_SERVICE_REACTORS_H_
