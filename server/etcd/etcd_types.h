// The values the etcd client (etcd_client.h) takes and returns: keys and
// their revisions, transaction comparisons and operations, watch events.
// Plain C++ and Abseil, no gRPC or protobuf: a store built on the client
// includes these without the wire types.
//
//   std::vector<Compare> absent = {Compare::CreateRevision("/p/1", Compare::kEqual, 0)};
//   std::vector<Op> put = {Op::Put("/p/1", "owner", lease_id)};
//   absl::StatusOr<TxnResult> r = client->Txn(absent, put, {});
#ifndef PORTLEASE_SERVER_ETCD_ETCD_TYPES_H_
#define PORTLEASE_SERVER_ETCD_ETCD_TYPES_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace portlease::etcd {

// One key as etcd stores it. Revisions are etcd's store revisions (one per
// committed write, cluster-wide, increasing).
struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;  // revision of the key's last creation
  int64_t mod_revision = 0;     // revision of its last modification
  int64_t version = 0;          // writes since creation (1 after the first)
  int64_t lease = 0;            // attached lease, 0 for none
};

// The range_end that makes [prefix, range_end) every key starting with
// `prefix`: the prefix with its last byte below 0xff incremented (bytes
// 0xff after it dropped). An empty prefix, or one of only 0xff bytes, gives
// "\0": every key from the prefix on.
std::string PrefixEnd(absl::string_view prefix);

// One comparison of a transaction's guard, on one key: `target` of the key
// compared with the given number or value. A missing key has version,
// create_revision, mod_revision and lease 0 and an empty value.
struct Compare {
  enum Target { kVersion, kCreate, kMod, kValue, kLease };
  enum Result { kEqual, kGreater, kLess, kNotEqual };

  std::string key;
  Target target = kVersion;
  Result result = kEqual;
  int64_t number = 0;  // kVersion, kCreate, kMod, kLease
  std::string value;   // kValue

  static Compare Version(std::string key, Result result, int64_t version);
  static Compare CreateRevision(std::string key, Result result, int64_t revision);
  static Compare ModRevision(std::string key, Result result, int64_t revision);
  static Compare Value(std::string key, Result result, std::string value);
  static Compare Lease(std::string key, Result result, int64_t lease);
  // The key does not exist: its create_revision is 0.
  static Compare Absent(std::string key) { return CreateRevision(std::move(key), kEqual, 0); }
};

// One operation of a transaction's branch. range_end as in EtcdClient::Range
// (empty: the one key).
struct Op {
  enum Kind { kRange, kPut, kDeleteRange };

  Kind kind = kRange;
  std::string key;
  std::string range_end;
  std::string value;  // kPut
  int64_t lease = 0;  // kPut: the lease to attach, 0 for none

  static Op Range(std::string key, std::string range_end = "");
  static Op Put(std::string key, std::string value, int64_t lease = 0);
  static Op DeleteRange(std::string key, std::string range_end = "");
};

struct RangeResult {
  std::vector<KeyValue> kvs;  // in key order
  int64_t revision = 0;       // the store's revision the read saw
  bool more = false;          // the limit cut the range short
};

struct DeleteResult {
  int64_t deleted = 0;   // keys deleted
  int64_t revision = 0;  // the store's revision after the delete
};

struct TxnResult {
  bool succeeded = false;  // the guard held: the success branch ran
  int64_t revision = 0;    // the store's revision after the transaction
  // One entry per operation of the branch that ran, in order: the keys a
  // Range read; empty for a Put or a DeleteRange.
  std::vector<std::vector<KeyValue>> ranges;
};

struct LeaseGrantResult {
  int64_t id = 0;
  int64_t ttl_seconds = 0;  // as granted (etcd may raise a TTL below its minimum)
};

struct LeaseTimeToLiveResult {
  int64_t ttl_seconds = 0;          // remaining
  int64_t granted_ttl_seconds = 0;  // as granted
  std::vector<std::string> keys;    // the keys attached, when asked for
};

// One change of a watched key. For a kDelete, kv has the key and
// mod_revision (the deletion's revision) only.
struct WatchEvent {
  enum Type { kPut, kDelete };
  Type type = kPut;
  KeyValue kv;
};

// Events of one or more whole revisions, in revision order.
struct WatchBatch {
  std::vector<WatchEvent> events;
  int64_t revision = 0;  // the last event's mod_revision
};

// What a watch delivers: batches in order, or once, as its last call, an
// error: OUT_OF_RANGE when the revision to resume from has been compacted
// (the caller reloads with Range and starts a new watch from the revision
// the Range returned + 1), FAILED_PRECONDITION when etcd canceled it for
// another reason.
using WatchCallback = std::function<void(absl::StatusOr<WatchBatch>)>;

}  // namespace portlease::etcd

#endif  // PORTLEASE_SERVER_ETCD_ETCD_TYPES_H_
