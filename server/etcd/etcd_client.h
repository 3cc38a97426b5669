// EtcdClient: a synchronous client of etcd's v3 API (KV, Lease, Watch) over
// gRPC, for a portleased that keeps its state in an etcd cluster.
//
//   EtcdOptions options;
//   options.endpoints = {"http://10.0.0.1:2379", "http://10.0.0.2:2379"};
//   absl::StatusOr<std::unique_ptr<EtcdClient>> client = EtcdClient::Connect(options);
//   absl::StatusOr<LeaseGrantResult> lease = (*client)->LeaseGrant(10);
//   absl::StatusOr<TxnResult> r = (*client)->Txn(
//       {Compare::Absent("/ports/20000")},
//       {Op::Put("/ports/20000", "lease-1", lease->id)}, {});
//
// The header exposes no gRPC or protobuf type (etcd_types.h holds the
// values), so that code above it needs neither.
//
// Errors. Every call returns within EtcdOptions::call_timeout. Codes are
// etcd's where it answered, with its message after "etcd <Call>: ":
//   NOT_FOUND         a lease that does not exist or has expired;
//   INVALID_ARGUMENT  a request etcd refuses, e.g. more operations in one Txn
//                     than its --max-txn-ops (128 by default), or a read at
//                     a revision the store has not reached;
//   OUT_OF_RANGE      a revision that has been compacted: reload at the newest;
//   UNAVAILABLE, DEADLINE_EXCEEDED  no member answered in time; the message
//                     names the endpoints tried.
// Ambiguity: a Put, DeleteRange or Txn that fails with UNAVAILABLE or
// DEADLINE_EXCEEDED after it was sent may have been applied; its message
// then says "may have been applied", and the caller reads the keys back
// before deciding. Reads and lease calls are retried on the next member
// within the deadline; writes are retried only when no member could be
// connected to (the request never left).
//
// Failover (see endpoints.h): one gRPC channel per member, not one channel
// with pick_first over all of them, because a stopped member (SIGSTOP, a
// frozen VM) keeps its TCP connection and pick_first would stay on it. A
// call that fails with UNAVAILABLE or DEADLINE_EXCEEDED makes the next
// member the preferred one for the calls after it, so a killed or stopped
// member costs at most one call's deadline. Reads and lease calls give one
// member at most half the deadline when there are several, then try the
// next.
//
// Thread-safe: calls from any threads; a watch runs on its own thread.
#ifndef PORTLEASE_SERVER_ETCD_ETCD_CLIENT_H_
#define PORTLEASE_SERVER_ETCD_ETCD_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/etcd/etcd_types.h"

namespace portlease::etcd {

namespace internal {
class Endpoints;
}  // namespace internal
class EtcdWatch;

struct EtcdOptions {
  // The members' client URLs: "http://host:port", "https://host:port" or
  // "host:port" (plain unless TLS files are given). At least one.
  std::vector<std::string> endpoints;
  // PEM files. Any of them, or an https:// endpoint, makes every connection
  // TLS; an empty ca_file then means the system's root certificates. A
  // client certificate needs its key.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // The deadline of each call, retries on other members included.
  absl::Duration call_timeout = absl::Seconds(5);
  // How often an open stream (a watch) pings its member to notice it has
  // stopped answering. At least etcd's --grpc-keepalive-min-time (5 s by
  // default), or etcd closes the connection.
  absl::Duration keepalive_time = absl::Seconds(10);
  // How long a watch waits before it reconnects after its stream broke.
  absl::Duration watch_retry_delay = absl::Milliseconds(100);
};

class EtcdClient {
 public:
  // Checks the options and reads the TLS files; does not connect (the first
  // call does). INVALID_ARGUMENT for bad options, with the reason.
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Connect(const EtcdOptions& options);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // The keys in [key, range_end) (range_end empty: the one key; PrefixEnd(p)
  // for a prefix), at `revision` (0: the newest), at most `limit` (0: all).
  // OUT_OF_RANGE when `revision` has been compacted.
  absl::StatusOr<RangeResult> Range(const std::string& key, const std::string& range_end = "",
                                    int64_t revision = 0, int64_t limit = 0);
  // Returns the store's revision after the write. Ambiguous on failure (above).
  absl::StatusOr<int64_t> Put(const std::string& key, const std::string& value,
                              int64_t lease = 0);
  // Ambiguous on failure (above).
  absl::StatusOr<DeleteResult> DeleteRange(const std::string& key,
                                           const std::string& range_end = "");
  // If every comparison holds, runs `success`, else `failure`, atomically.
  // INVALID_ARGUMENT for more operations than etcd's --max-txn-ops, or two
  // writes of one key. Ambiguous on failure (above).
  absl::StatusOr<TxnResult> Txn(const std::vector<Compare>& compares,
                                const std::vector<Op>& success,
                                const std::vector<Op>& failure);
  // Compacts the history before `revision`: a Range or a watch at an older
  // revision gets OUT_OF_RANGE. OUT_OF_RANGE if already compacted there.
  absl::Status Compact(int64_t revision);

  // A lease of ttl_seconds (etcd raises it to its minimum, about 1.5
  // election timeouts). A call that fails after it was sent may leave a
  // lease nobody holds; it expires after its TTL.
  absl::StatusOr<LeaseGrantResult> LeaseGrant(int64_t ttl_seconds);
  // Ends the lease and deletes its keys. NOT_FOUND if it has already ended.
  absl::Status LeaseRevoke(int64_t id);
  // Renews the lease once; returns its TTL again. NOT_FOUND if it has ended.
  absl::StatusOr<int64_t> LeaseKeepAliveOnce(int64_t id);
  // The lease's remaining time (and its keys if `keys`). NOT_FOUND if it
  // has ended.
  absl::StatusOr<LeaseTimeToLiveResult> LeaseTimeToLive(int64_t id, bool keys = false);

  // Watches every key starting with `prefix` from `start_revision` (0: from
  // now), delivering to `callback` on the watch's own thread (EtcdWatch).
  // The watch may outlive the client.
  std::unique_ptr<EtcdWatch> Watch(const std::string& prefix, int64_t start_revision,
                                   WatchCallback callback);

  // "url1, url2, ...".
  std::string EndpointList() const;

 private:
  explicit EtcdClient(std::shared_ptr<internal::Endpoints> endpoints);

  std::shared_ptr<internal::Endpoints> endpoints_;  // thread-safe itself
};

}  // namespace portlease::etcd

#endif  // PORTLEASE_SERVER_ETCD_ETCD_CLIENT_H_
