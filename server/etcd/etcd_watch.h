// EtcdWatch: a running watch of every key under a prefix, made by
// EtcdClient::Watch (etcd_client.h).
//
// A thread of its own keeps one Watch stream open to one member and hands
// each response's events to the callback, in revision order, each revision
// once. When the stream breaks (the member died, lost its leader, stopped
// answering keepalive pings) it reconnects, to the next member, from the
// revision after the last one delivered, after EtcdOptions::watch_retry_delay
// (doubling up to 16 times that while members keep failing). It asks etcd to
// end the stream when its member has no leader, so a partitioned member's
// silence is not mistaken for quiet.
//
// It ends by itself only after delivering an error: OUT_OF_RANGE when the
// revision to resume from has been compacted (reload, then watch anew), or
// FAILED_PRECONDITION when etcd canceled it.
//
// Thread-safe. The destructor stops the stream and joins the thread: no
// callback runs after it returns. Do not destroy a watch from its own
// callback.
#ifndef PORTLEASE_SERVER_ETCD_ETCD_WATCH_H_
#define PORTLEASE_SERVER_ETCD_ETCD_WATCH_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/etcd/etcd_types.h"

namespace grpc {
class ClientContext;
}  // namespace grpc

namespace portlease::etcd {

namespace internal {
class Endpoints;
}  // namespace internal

class EtcdWatch {
 public:
  ~EtcdWatch();
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;

 private:
  friend class EtcdClient;
  // How one stream ended.
  enum class StreamEnd { kBroken, kDone };

  EtcdWatch(std::shared_ptr<internal::Endpoints> endpoints, std::string prefix,
            int64_t start_revision, WatchCallback callback);
  void Run();
  StreamEnd RunStream(size_t endpoint);
  // Waits `delay` or until the destructor asks to stop; true if it did.
  bool StopRequestedWithin(absl::Duration delay);

  const std::shared_ptr<internal::Endpoints> endpoints_;
  const std::string prefix_;
  const WatchCallback callback_;
  // The revision to (re)start from: 0 until the first stream tells the
  // current one when started "from now". Only the watch thread uses it.
  int64_t next_revision_;

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // The open stream's context, for the destructor to cancel.
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;

  std::thread thread_;  // last: starts once the rest is set
};

}  // namespace portlease::etcd

#endif  // PORTLEASE_SERVER_ETCD_ETCD_WATCH_H_
