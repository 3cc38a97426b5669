#include "server/service/reactors.h"

#include <utility>

#include "server/service/convert.h"

namespace portlease {

AcquireWaitReactor* AcquireWaitReactor::Start(
    LeaseBackend* manager, AcquireParams params, absl::Duration deadline,
    v1::AcquireResponse* response,
    std::function<void(const absl::Status&)> on_done) {
  auto* reactor = new AcquireWaitReactor(manager, response, std::move(on_done));
  // gRPC runs OnDone only after the handler returned the reactor and Finish
  // was called, so `reactor` stays valid until this function returns.
  const uint64_t ticket =
      manager->AcquireOrWait(std::move(params), deadline,
                             [reactor](absl::StatusOr<LeaseRecord> result) {
                               reactor->Complete(std::move(result));
                             });
  bool cancel_now = false;
  {
    absl::MutexLock lock(&reactor->mu_);
    if (ticket != 0 && !reactor->completed_) {
      reactor->ticket_ = ticket;
      reactor->queued_ = true;
      cancel_now = reactor->cancelled_;
    }
  }
  // The RPC was cancelled before the ticket was known.
  if (cancel_now) manager->CancelWait(ticket);
  return reactor;
}

void AcquireWaitReactor::OnCancel() {
  uint64_t ticket = 0;
  LeaseBackend* const manager = manager_;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (!queued_ || completed_) return;
    ticket = ticket_;
  }
  // Completes the wait with CANCELLED (a no-op if it was just served);
  // without our lock held, since it may call Complete.
  manager->CancelWait(ticket);
}

void AcquireWaitReactor::Complete(absl::StatusOr<LeaseRecord> result) {
  {
    absl::MutexLock lock(&mu_);
    completed_ = true;
  }
  if (result.ok()) {
    LeaseToProto(*result, LeaseIdVisibility::kFull, response_->mutable_lease());
    DurationToProto(manager_->hold_grace(), response_->mutable_hold_grace());
    response_->set_held(result->held);
  }
  if (on_done_) on_done_(result.status());
  // Last touch of `this`: OnDone may follow at once.
  Finish(ToGrpcStatus(result.status()));
}

HoldReactor::HoldReactor(LeaseBackend* manager, const absl::Status& admitted,
                         Principal caller,
                         absl::AnyInvocable<absl::Status()> admit_message,
                         Metadata peer_owner)
    : manager_(manager),
      caller_(std::move(caller)),
      admit_message_(std::move(admit_message)),
      peer_owner_(std::move(peer_owner)) {
  if (!admitted.ok()) {
    Finish(ToGrpcStatus(admitted));
    return;
  }
  StartRead(&request_);
}

void HoldReactor::OnReadDone(bool ok) {
  if (!ok) {
    // The client closed its side, or the stream broke.
    Finish(grpc::Status::OK);
    return;
  }
  // Each message is a request like any other: a stream is no way around
  // the caller's rate limit.
  if (!first_read_ && admit_message_) {
    absl::Status admitted = admit_message_();
    if (!admitted.ok()) {
      Finish(ToGrpcStatus(admitted));
      return;
    }
  }
  first_read_ = false;
  if (Answer()) StartWrite(&response_);
}

bool HoldReactor::Answer() {
  absl::StatusOr<LeaseRecord> lease;
  if (!attached_) {
    absl::Status valid = CheckLeaseIdField(request_.lease_id());
    if (!valid.ok()) {
      Finish(ToGrpcStatus(valid));
      return false;
    }
    lease = manager_->AttachHolder(request_.lease_id(), caller_);
    if (absl::IsNotFound(lease.status()) && request_.has_reattach()) {
      // Unknown here: re-created from the holder's snapshot during a
      // recovery window (after lost state), then attached.
      absl::StatusOr<LeaseRecord> snapshot = SnapshotFromProto(
          request_.reattach(), request_.lease_id(), peer_owner_);
      absl::StatusOr<LeaseRecord> back =
          snapshot.ok() ? manager_->Reattach(*snapshot, caller_)
                        : snapshot.status();
      lease = back.ok() ? manager_->AttachHolder(request_.lease_id(), caller_)
                        : back;
    }
    if (lease.ok()) {
      attached_ = true;
      lease_id_ = request_.lease_id();
    }
  } else {
    lease = manager_->Get(lease_id_, caller_);
  }
  if (!lease.ok()) {
    Finish(ToGrpcStatus(lease.status()));
    return false;
  }
  response_.Clear();
  TimeToProto(lease->expires_at, response_.mutable_expires_at());
  DurationToProto(manager_->hold_grace(), response_.mutable_hold_grace());
  return true;
}

void HoldReactor::OnWriteDone(bool ok) {
  if (!ok) {
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "hold stream broken"));
    return;
  }
  StartRead(&request_);
}

void HoldReactor::OnDone() {
  if (attached_) manager_->DetachHolder(lease_id_);
  delete this;
}

}  // namespace portlease
