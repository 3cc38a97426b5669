// Endpoints: the etcd members a client talks to, one gRPC channel each, and
// which one the next call goes to. Internal to server/etcd/.
//
// Why a channel per member rather than one channel over every address: a
// member that is stopped (SIGSTOP, a frozen VM, a partition) keeps its TCP
// connection open, so a single channel's pick_first policy would keep
// sending to it and every call would run into its deadline. With one
// channel per member the client moves on by itself: a call that fails
// with UNAVAILABLE or DEADLINE_EXCEEDED makes the next member the
// preferred one (MarkFailed), and Pick() passes over members whose channel
// already knows it cannot connect.
//
// Thread-safe.
#ifndef PORTLEASE_SERVER_ETCD_ENDPOINTS_H_
#define PORTLEASE_SERVER_ETCD_ENDPOINTS_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "etcd/etcdserverpb/rpc.grpc.pb.h"
#include "grpcpp/channel.h"
#include "server/etcd/etcd_client.h"

namespace portlease::etcd::internal {

struct Endpoint {
  std::string url;  // as given in EtcdOptions::endpoints
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch;
};

class Endpoints {
 public:
  // INVALID_ARGUMENT for no endpoint, a URL that is not http(s)://host:port
  // or host:port, or a TLS file that cannot be read (with its path).
  static absl::StatusOr<std::shared_ptr<Endpoints>> Make(const EtcdOptions& options);

  size_t size() const { return endpoints_.size(); }
  const Endpoint& at(size_t i) const { return endpoints_[i]; }
  absl::Duration call_timeout() const { return call_timeout_; }
  absl::Duration watch_retry_delay() const { return watch_retry_delay_; }
  // "url1, url2, ...", for messages.
  std::string List() const;

  // The member for the next call: the preferred one, unless its channel is
  // in TRANSIENT_FAILURE and another's is not.
  size_t Pick();
  // The call to member i failed as if it were down: if it is the preferred
  // one, the next member becomes preferred.
  void MarkFailed(size_t i);

 private:
  Endpoints() = default;

  std::vector<Endpoint> endpoints_;  // fixed after Make
  absl::Duration call_timeout_;
  absl::Duration watch_retry_delay_;
  absl::Mutex mu_;
  size_t preferred_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace portlease::etcd::internal

#endif  // PORTLEASE_SERVER_ETCD_ENDPOINTS_H_
