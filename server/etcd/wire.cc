#include "server/etcd/wire.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace portlease::etcd::internal {

KeyValue FromProto(const mvccpb::KeyValue& kv) {
  KeyValue out;
  out.key = kv.key();
  out.value = kv.value();
  out.create_revision = kv.create_revision();
  out.mod_revision = kv.mod_revision();
  out.version = kv.version();
  out.lease = kv.lease();
  return out;
}

std::vector<KeyValue> FromProto(const google::protobuf::RepeatedPtrField<mvccpb::KeyValue>& kvs) {
  std::vector<KeyValue> out;
  out.reserve(kvs.size());
  for (const mvccpb::KeyValue& kv : kvs) out.push_back(FromProto(kv));
  return out;
}

void ToProto(const Compare& compare, etcdserverpb::Compare* out) {
  out->set_key(compare.key);
  out->set_result(static_cast<etcdserverpb::Compare::CompareResult>(compare.result));
  switch (compare.target) {
    case Compare::kVersion:
      out->set_target(etcdserverpb::Compare::VERSION);
      out->set_version(compare.number);
      break;
    case Compare::kCreate:
      out->set_target(etcdserverpb::Compare::CREATE);
      out->set_create_revision(compare.number);
      break;
    case Compare::kMod:
      out->set_target(etcdserverpb::Compare::MOD);
      out->set_mod_revision(compare.number);
      break;
    case Compare::kValue:
      out->set_target(etcdserverpb::Compare::VALUE);
      out->set_value(compare.value);
      break;
    case Compare::kLease:
      out->set_target(etcdserverpb::Compare::LEASE);
      out->set_lease(compare.number);
      break;
  }
}

void ToProto(const Op& op, etcdserverpb::RequestOp* out) {
  switch (op.kind) {
    case Op::kRange: {
      etcdserverpb::RangeRequest* r = out->mutable_request_range();
      r->set_key(op.key);
      r->set_range_end(op.range_end);
      break;
    }
    case Op::kPut: {
      etcdserverpb::PutRequest* p = out->mutable_request_put();
      p->set_key(op.key);
      p->set_value(op.value);
      p->set_lease(op.lease);
      break;
    }
    case Op::kDeleteRange: {
      etcdserverpb::DeleteRangeRequest* d = out->mutable_request_delete_range();
      d->set_key(op.key);
      d->set_range_end(op.range_end);
      break;
    }
  }
}

TxnResult FromProto(const etcdserverpb::TxnResponse& response) {
  TxnResult out;
  out.succeeded = response.succeeded();
  out.revision = response.header().revision();
  out.ranges.reserve(response.responses_size());
  for (const etcdserverpb::ResponseOp& op : response.responses()) {
    out.ranges.push_back(op.has_response_range() ? FromProto(op.response_range().kvs())
                                                 : std::vector<KeyValue>());
  }
  return out;
}

WatchBatch FromProto(const etcdserverpb::WatchResponse& response) {
  WatchBatch batch;
  batch.events.reserve(response.events_size());
  for (const mvccpb::Event& event : response.events()) {
    WatchEvent e;
    e.type = event.type() == mvccpb::Event::DELETE ? WatchEvent::kDelete : WatchEvent::kPut;
    e.kv = FromProto(event.kv());
    batch.revision = e.kv.mod_revision;
    batch.events.push_back(std::move(e));
  }
  return batch;
}

bool IsMemberFailure(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

bool NeverSent(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE &&
         absl::StrContains(status.error_message(), "failed to connect");
}

absl::Status EtcdError(absl::string_view call, const grpc::Status& status) {
  std::string message = absl::StrCat("etcd ", call, ": ", status.error_message());
  if (absl::StrContains(status.error_message(), "too many operations in txn")) {
    absl::StrAppend(&message,
                    " (more than the cluster's --max-txn-ops, 128 by default: split the "
                    "transaction or raise the limit)");
  }
  // etcd says OUT_OF_RANGE for a revision not reached yet too; that one is
  // the caller's mistake, not a reason to reload.
  if (absl::StrContains(status.error_message(), "future revision")) {
    return absl::InvalidArgumentError(message);
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), message);
}

}  // namespace portlease::etcd::internal
