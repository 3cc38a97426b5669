// EtcdClient's lease calls (etcd_client.h).
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "server/etcd/endpoints.h"
#include "server/etcd/etcd_client.h"
#include "server/etcd/etcd_call.h"
#include "server/etcd/wire.h"

namespace portlease::etcd {

using internal::Endpoint;
using internal::Retry;
using internal::RunCall;

absl::StatusOr<LeaseGrantResult> EtcdClient::LeaseGrant(int64_t ttl_seconds) {
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(ttl_seconds);
  etcdserverpb::LeaseGrantResponse response;
  absl::Status status = RunCall(*endpoints_, "LeaseGrant", Retry::kOnAnyFailure,
                                [&](const Endpoint& e, grpc::ClientContext* context) {
                                  return e.lease->LeaseGrant(context, request, &response);
                                });
  if (!status.ok()) return status;
  if (!response.error().empty()) {
    return absl::FailedPreconditionError(absl::StrCat("etcd LeaseGrant: ", response.error()));
  }
  return LeaseGrantResult{response.id(), response.ttl()};
}

absl::Status EtcdClient::LeaseRevoke(int64_t id) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(id);
  etcdserverpb::LeaseRevokeResponse response;
  return RunCall(*endpoints_, "LeaseRevoke", Retry::kOnAnyFailure,
                 [&](const Endpoint& e, grpc::ClientContext* context) {
                   return e.lease->LeaseRevoke(context, request, &response);
                 });
}

absl::StatusOr<int64_t> EtcdClient::LeaseKeepAliveOnce(int64_t id) {
  etcdserverpb::LeaseKeepAliveRequest request;
  request.set_id(id);
  etcdserverpb::LeaseKeepAliveResponse response;
  bool answered = false;
  absl::Status status = RunCall(
      *endpoints_, "LeaseKeepAlive", Retry::kOnAnyFailure,
      [&](const Endpoint& e, grpc::ClientContext* context) {
        auto stream = e.lease->LeaseKeepAlive(context);
        // One request, then half-close: etcd answers and ends the stream.
        if (stream->Write(request)) stream->WritesDone();
        answered = stream->Read(&response);
        etcdserverpb::LeaseKeepAliveResponse more;
        while (stream->Read(&more)) {
        }
        return stream->Finish();
      });
  if (!status.ok()) return status;
  if (!answered) {
    return absl::UnavailableError("etcd LeaseKeepAlive: the stream ended without an answer");
  }
  if (response.ttl() <= 0) {
    return absl::NotFoundError(
        absl::StrCat("etcd LeaseKeepAlive: lease ", id, " has expired or does not exist"));
  }
  return response.ttl();
}

absl::StatusOr<LeaseTimeToLiveResult> EtcdClient::LeaseTimeToLive(int64_t id, bool keys) {
  etcdserverpb::LeaseTimeToLiveRequest request;
  request.set_id(id);
  request.set_keys(keys);
  etcdserverpb::LeaseTimeToLiveResponse response;
  absl::Status status = RunCall(*endpoints_, "LeaseTimeToLive", Retry::kOnAnyFailure,
                                [&](const Endpoint& e, grpc::ClientContext* context) {
                                  return e.lease->LeaseTimeToLive(context, request, &response);
                                });
  if (!status.ok()) return status;
  if (response.ttl() < 0) {
    return absl::NotFoundError(
        absl::StrCat("etcd LeaseTimeToLive: lease ", id, " has expired or does not exist"));
  }
  LeaseTimeToLiveResult result;
  result.ttl_seconds = response.ttl();
  result.granted_ttl_seconds = response.grantedttl();
  result.keys.assign(response.keys().begin(), response.keys().end());
  return result;
}

}  // namespace portlease::etcd
