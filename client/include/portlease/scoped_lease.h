// ScopedLease: a lease held for the lifetime of an object.
//
//   auto lease = portlease::ScopedLease::Acquire(client, {.spec = spec});
//   if (!lease.ok()) return lease.status();
//   std::optional<uint16_t> redis = (*lease)->Port("redis");
//   ...                        // the lease is renewed in the background
//   lease->reset();            // released here (bounded: ~release_timeout)
//
// While alive, a ScopedLease keeps a Hold stream open (so the server frees
// the lease soon after this process dies) and renews the lease every ttl/3.
// When a renewal answers NOT_FOUND the lease is lost: status() turns
// NOT_FOUND and on_lost runs once, on a background thread. Transient errors
// (UNAVAILABLE, DEADLINE_EXCEEDED) are retried at the next renewal.
//
// Thread-safe: every method may be called from any thread.
#ifndef PORTLEASE_CLIENT_INCLUDE_PORTLEASE_SCOPED_LEASE_H_
#define PORTLEASE_CLIENT_INCLUDE_PORTLEASE_SCOPED_LEASE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "portlease/client.h"
#include "portlease/lease_env.h"

namespace portlease {

struct ScopedLeaseOptions {
  // What to acquire.
  AcquireSpec spec;
  // Called at most once, from a background thread, when the lease is lost.
  std::function<void(const absl::Status&)> on_lost;
  // Deadline of the Release sent by the destructor.
  absl::Duration release_timeout = absl::Seconds(1);
  // Renewal period; zero means a third of the granted ttl.
  absl::Duration renew_interval = absl::ZeroDuration();
};

class ScopedLease {
 public:
  // Acquires (Client::Acquire errors) and starts keeping the lease alive.
  static absl::StatusOr<std::unique_ptr<ScopedLease>> Acquire(
      std::shared_ptr<const Client> client, ScopedLeaseOptions options);

  // Releases the lease (unless lost or released) with a deadline of
  // release_timeout, and stops the background threads.
  ~ScopedLease();

  ScopedLease(const ScopedLease&) = delete;
  ScopedLease& operator=(const ScopedLease&) = delete;

  // The lease as granted.
  const v1::Lease& lease() const { return lease_; }
  const std::string& id() const { return lease_.lease_id(); }

  // The port named `name`; nullopt when there is none.
  std::optional<uint16_t> Port(absl::string_view name) const;
  // All ports, in request order.
  std::vector<uint16_t> Ports() const;

  // The environment entries for the lease (see lease_env.h).
  absl::StatusOr<Variables> Environment(const v1::Profile* profile,
                                        const VariableLookup& environment,
                                        absl::string_view checkout_dir) const;

  // OK while the lease is held; NOT_FOUND once lost; FAILED_PRECONDITION
  // after Release().
  absl::Status status() const;

  // Releases now. Returns the Release result (NOT_FOUND if already lost).
  absl::Status Release();

 private:
  ScopedLease(std::shared_ptr<const Client> client, ScopedLeaseOptions options,
              v1::Lease lease);

  void RenewLoop();
  void HoldLoop();
  void MarkLost(const absl::Status& status);
  // Stops the threads; sends Release first when `release`.
  absl::Status Stop(bool release);

  const std::shared_ptr<const Client> client_;
  const ScopedLeaseOptions options_;
  const v1::Lease lease_;
  const absl::Duration renew_interval_;

  mutable absl::Mutex mu_;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* renew_context_ ABSL_GUARDED_BY(mu_) = nullptr;
  grpc::ClientContext* hold_context_ ABSL_GUARDED_BY(mu_) = nullptr;

  std::thread renew_thread_;
  std::thread hold_thread_;
};

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_INCLUDE_PORTLEASE_SCOPED_LEASE_H_
