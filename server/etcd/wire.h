// Conversions between etcd_types.h and etcd's protobuf messages, and from
// gRPC statuses to absl::Status. Internal to server/etcd/.
#ifndef PORTLEASE_SERVER_ETCD_WIRE_H_
#define PORTLEASE_SERVER_ETCD_WIRE_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "etcd/etcdserverpb/rpc.pb.h"
#include "etcd/mvccpb/kv.pb.h"
#include "grpcpp/support/status.h"
#include "server/etcd/etcd_types.h"

namespace portlease::etcd::internal {

KeyValue FromProto(const mvccpb::KeyValue& kv);
std::vector<KeyValue> FromProto(const google::protobuf::RepeatedPtrField<mvccpb::KeyValue>& kvs);
void ToProto(const Compare& compare, etcdserverpb::Compare* out);
void ToProto(const Op& op, etcdserverpb::RequestOp* out);
TxnResult FromProto(const etcdserverpb::TxnResponse& response);
// The events of one watch response, or an empty batch.
WatchBatch FromProto(const etcdserverpb::WatchResponse& response);

// The member did not answer (UNAVAILABLE, DEADLINE_EXCEEDED): another may.
bool IsMemberFailure(const grpc::Status& status);
// The call failed before any member received it: no connection could be
// made ("failed to connect to all addresses").
bool NeverSent(const grpc::Status& status);

// etcd's answer as "etcd <call>: <etcd's message>" with its code (gRPC and
// Abseil codes share numbers); the txn limit gets a hint at --max-txn-ops,
// a future revision is INVALID_ARGUMENT (OUT_OF_RANGE stays "compacted").
absl::Status EtcdError(absl::string_view call, const grpc::Status& status);

}  // namespace portlease::etcd::internal

#endif  // PORTLEASE_SERVER_ETCD_WIRE_H_
