#include "server/etcd/etcd_client.h"

#include <utility>

#include "grpcpp/client_context.h"
#include "server/etcd/endpoints.h"
#include "server/etcd/etcd_call.h"
#include "server/etcd/etcd_watch.h"
#include "server/etcd/wire.h"

namespace portlease::etcd {

using internal::Endpoint;
using internal::Endpoints;
using internal::Retry;
using internal::RunCall;

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Connect(const EtcdOptions& options) {
  absl::StatusOr<std::shared_ptr<Endpoints>> endpoints = Endpoints::Make(options);
  if (!endpoints.ok()) return endpoints.status();
  return std::unique_ptr<EtcdClient>(new EtcdClient(*std::move(endpoints)));
}

EtcdClient::EtcdClient(std::shared_ptr<Endpoints> endpoints) : endpoints_(std::move(endpoints)) {}
EtcdClient::~EtcdClient() = default;

std::string EtcdClient::EndpointList() const { return endpoints_->List(); }

absl::StatusOr<RangeResult> EtcdClient::Range(const std::string& key,
                                              const std::string& range_end, int64_t revision,
                                              int64_t limit) {
  etcdserverpb::RangeRequest request;
  request.set_key(key);
  request.set_range_end(range_end);
  request.set_revision(revision);
  request.set_limit(limit);
  etcdserverpb::RangeResponse response;
  absl::Status status = RunCall(*endpoints_, "Range", Retry::kOnAnyFailure,
                                [&](const Endpoint& e, grpc::ClientContext* context) {
                                  return e.kv->Range(context, request, &response);
                                });
  if (!status.ok()) return status;
  RangeResult result;
  result.kvs = internal::FromProto(response.kvs());
  result.revision = response.header().revision();
  result.more = response.more();
  return result;
}

absl::StatusOr<int64_t> EtcdClient::Put(const std::string& key, const std::string& value,
                                        int64_t lease) {
  etcdserverpb::PutRequest request;
  request.set_key(key);
  request.set_value(value);
  request.set_lease(lease);
  etcdserverpb::PutResponse response;
  absl::Status status = RunCall(*endpoints_, "Put", Retry::kIfNeverSent,
                                [&](const Endpoint& e, grpc::ClientContext* context) {
                                  return e.kv->Put(context, request, &response);
                                });
  if (!status.ok()) return status;
  return response.header().revision();
}

absl::StatusOr<DeleteResult> EtcdClient::DeleteRange(const std::string& key,
                                                     const std::string& range_end) {
  etcdserverpb::DeleteRangeRequest request;
  request.set_key(key);
  request.set_range_end(range_end);
  etcdserverpb::DeleteRangeResponse response;
  absl::Status status = RunCall(*endpoints_, "DeleteRange", Retry::kIfNeverSent,
                                [&](const Endpoint& e, grpc::ClientContext* context) {
                                  return e.kv->DeleteRange(context, request, &response);
                                });
  if (!status.ok()) return status;
  return DeleteResult{response.deleted(), response.header().revision()};
}

absl::StatusOr<TxnResult> EtcdClient::Txn(const std::vector<Compare>& compares,
                                          const std::vector<Op>& success,
                                          const std::vector<Op>& failure) {
  etcdserverpb::TxnRequest request;
  for (const Compare& c : compares) internal::ToProto(c, request.add_compare());
  for (const Op& op : success) internal::ToProto(op, request.add_success());
  for (const Op& op : failure) internal::ToProto(op, request.add_failure());
  etcdserverpb::TxnResponse response;
  absl::Status status = RunCall(*endpoints_, "Txn", Retry::kIfNeverSent,
                                [&](const Endpoint& e, grpc::ClientContext* context) {
                                  return e.kv->Txn(context, request, &response);
                                });
  if (!status.ok()) return status;
  return internal::FromProto(response);
}

absl::Status EtcdClient::Compact(int64_t revision) {
  etcdserverpb::CompactionRequest request;
  request.set_revision(revision);
  request.set_physical(true);
  etcdserverpb::CompactionResponse response;
  return RunCall(*endpoints_, "Compact", Retry::kOnAnyFailure,
                 [&](const Endpoint& e, grpc::ClientContext* context) {
                   return e.kv->Compact(context, request, &response);
                 });
}

std::unique_ptr<EtcdWatch> EtcdClient::Watch(const std::string& prefix, int64_t start_revision,
                                             WatchCallback callback) {
  return std::unique_ptr<EtcdWatch>(
      new EtcdWatch(endpoints_, prefix, start_revision, std::move(callback)));
}

}  // namespace portlease::etcd
