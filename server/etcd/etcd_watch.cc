#include "server/etcd/etcd_watch.h"

#include <algorithm>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "server/etcd/endpoints.h"
#include "server/etcd/wire.h"

namespace portlease::etcd {

EtcdWatch::EtcdWatch(std::shared_ptr<internal::Endpoints> endpoints, std::string prefix,
                     int64_t start_revision, WatchCallback callback)
    : endpoints_(std::move(endpoints)),
      prefix_(std::move(prefix)),
      callback_(std::move(callback)),
      next_revision_(start_revision),
      thread_([this] { Run(); }) {}

EtcdWatch::~EtcdWatch() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  thread_.join();
}

bool EtcdWatch::StopRequestedWithin(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stop_), delay);
  return stop_;
}

void EtcdWatch::Run() {
  const absl::Duration base_delay = endpoints_->watch_retry_delay();
  absl::Duration delay = base_delay;
  while (true) {
    const size_t endpoint = endpoints_->Pick();
    const int64_t before = next_revision_;
    if (RunStream(endpoint) == StreamEnd::kDone) return;
    if (StopRequestedWithin(absl::ZeroDuration())) return;
    endpoints_->MarkFailed(endpoint);
    // A stream that delivered something was healthy: retry soon.
    delay = next_revision_ != before ? base_delay : std::min(2 * delay, 16 * base_delay);
    if (StopRequestedWithin(delay)) return;
  }
}

EtcdWatch::StreamEnd EtcdWatch::RunStream(size_t endpoint) {
  grpc::ClientContext context;
  // etcd ends the stream when this member has no leader (clientv3's
  // WithRequireLeader), rather than leaving it silent.
  context.AddMetadata("hasleader", "true");
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return StreamEnd::kDone;
    context_ = &context;
  }
  absl::Cleanup forget = [&] {
    absl::MutexLock lock(&mu_);
    context_ = nullptr;
  };
  auto stream = endpoints_->at(endpoint).watch->Watch(&context);
  etcdserverpb::WatchRequest request;
  etcdserverpb::WatchCreateRequest* create = request.mutable_create_request();
  create->set_key(prefix_);
  create->set_range_end(PrefixEnd(prefix_));
  create->set_start_revision(next_revision_);
  etcdserverpb::WatchResponse response;
  StreamEnd end = StreamEnd::kBroken;
  if (stream->Write(request)) {
    while (stream->Read(&response)) {
      if (response.created() && next_revision_ == 0) {
        next_revision_ = response.header().revision() + 1;
      }
      if (response.compact_revision() != 0) {
        callback_(absl::OutOfRangeError(absl::StrCat(
            "etcd Watch of '", prefix_, "' from revision ", next_revision_,
            ": compacted up to revision ", response.compact_revision(), "; reload")));
        end = StreamEnd::kDone;
        break;
      }
      if (response.canceled()) {
        callback_(absl::FailedPreconditionError(absl::StrCat(
            "etcd canceled the watch of '", prefix_, "': ", response.cancel_reason())));
        end = StreamEnd::kDone;
        break;
      }
      WatchBatch batch = internal::FromProto(response);
      if (batch.events.empty()) continue;
      next_revision_ = batch.revision + 1;
      callback_(std::move(batch));
    }
  }
  context.TryCancel();
  while (stream->Read(&response)) {
  }
  (void)stream->Finish();
  return end;
}

}  // namespace portlease::etcd
