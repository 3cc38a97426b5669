// ScopedLease: a lease held for the lifetime of an object.
//
//   auto lease = portlease::ScopedLease::Acquire(client, {.spec = spec});
//   if (!lease.ok()) return lease.status();
//   std::optional<uint16_t> redis = (*lease)->Port("redis");
//   ...                        // the lease is renewed in the background
//   lease->reset();            // released here (see ~ScopedLease)
//
// While alive, a ScopedLease keeps a Hold stream open (so the server frees
// the lease soon after this process dies) and renews the lease every ttl/3.
// A Hold stream that breaks is reopened at once, then with backoff (50 ms
// doubling to 500 ms), so a restarted server (which keeps the lease in its
// database) is held again within its hold grace. With a Client of several
// addresses, a stream that cannot be reopened (UNAVAILABLE,
// DEADLINE_EXCEEDED) moves the client to its next address, wrapping
// around, so a replica sharing the state (or a server started elsewhere
// on the same database) holds the lease instead. Every Hold and renewal
// carries the lease's snapshot (RenewRequest.reattach), so a server that
// lost its database re-creates the lease during its recovery window.
//
// Losing the lease:
//   - for good: a renewal or the Hold stream answers NOT_FOUND (expired,
//     force-released, reclaimed). status() turns NOT_FOUND.
//   - the server unreachable: no Hold stream for hold_grace (after which
//     a running server reclaims the lease). status() turns UNAVAILABLE; the
//     stream keeps being reopened, and when the server comes back and still
//     has the lease, status() is OK again and on_restored runs.
// on_lost runs on each of these transitions (so at most twice: unreachable,
// then NOT_FOUND), on a background thread. Transient renewal errors
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
  // Called from a background thread when the lease is lost (see above).
  std::function<void(const absl::Status&)> on_lost;
  // Called from a background thread when a lease lost to an unreachable
  // server is held again.
  std::function<void()> on_restored;
  // The server's hold grace (portleased --hold-grace, default 2s): with no
  // Hold stream for this long, the lease counts as lost. Used only with a
  // server that does not say its own (in its Acquire and Hold answers).
  absl::Duration hold_grace = absl::Seconds(2);
  // Deadline of the Release sent by the destructor.
  absl::Duration release_timeout = absl::Seconds(1);
  // Renewal period; zero means a third of the granted ttl.
  absl::Duration renew_interval = absl::ZeroDuration();
};

class ScopedLease {
 public:
  // Acquires (Client::Acquire errors) and starts keeping the lease alive;
  // returns once the server holds it through the Hold stream (so it knows
  // the server's hold grace, and a holder killed from here on loses the
  // lease after that grace), or after a second without that answer.
  static absl::StatusOr<std::unique_ptr<ScopedLease>> Acquire(
      std::shared_ptr<const Client> client, ScopedLeaseOptions options);

  // Releases the lease (unless lost or released) with a deadline of
  // release_timeout per attempt (a server restarting meanwhile is waited
  // for up to the client's connect_timeout), and stops the background
  // threads.
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

  // OK while the lease is held; UNAVAILABLE while the server has been
  // unreachable for hold_grace; NOT_FOUND once lost for good;
  // FAILED_PRECONDITION after Release().
  absl::Status status() const;

  // Releases now. Returns the Release result (NOT_FOUND if already lost).
  absl::Status Release();

 private:
  ScopedLease(std::shared_ptr<const Client> client, ScopedLeaseOptions options,
              v1::Lease lease);

  void RenewLoop();
  void HoldLoop();
  // One Hold stream through the client's current address, until it breaks
  // or is cancelled; *attached once the server answered. Its status
  // (CANCELLED without a stream when stopping).
  absl::Status HoldOnce(bool* attached);
  void MarkLost(const absl::Status& status);
  // No Hold stream since `since`; marks the lease unreachable-lost after
  // hold_grace.
  void CheckUnreachable(absl::Time since, const absl::Status& last);
  // A Hold stream is attached again.
  void MarkHeld();
  // Stops the threads; sends Release first when `release`.
  absl::Status Stop(bool release);

  const std::shared_ptr<const Client> client_;
  const ScopedLeaseOptions options_;
  const v1::Lease lease_;
  // A third of the lease's ttl, from the grant and then from each renewal
  // (the server may clamp the ttl to its current limits), unless
  // ScopedLeaseOptions::renew_interval is set. Renew thread only.
  absl::Duration renew_interval_;

  mutable absl::Mutex mu_;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  // Not OK while the server is unreachable past hold_grace.
  absl::Status unreachable_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The Hold stream has been attached at least once.
  bool held_once_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* renew_context_ ABSL_GUARDED_BY(mu_) = nullptr;
  grpc::ClientContext* hold_context_ ABSL_GUARDED_BY(mu_) = nullptr;

  // options_.hold_grace, then the server's. Hold thread only.
  absl::Duration hold_grace_;

  std::thread renew_thread_;
  std::thread hold_thread_;
};

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_INCLUDE_PORTLEASE_SCOPED_LEASE_H_
