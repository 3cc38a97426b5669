// IdleTracker: how long a server has had nothing to do, for portleased's
// --idle-exit. "Nothing to do" means no RPC in flight (an open Hold stream
// is an RPC in flight) and no live lease.
//
//   IdleTracker idle(&clock, [&] { return manager->Stats().live_leases; });
//   options.idle_tracker = &idle;          // StartServer reports each call
//   ...
//   if (idle.IdleFor() >= absl::Minutes(15)) exit
//
// Calls are reported by the server (CallStarted/CallEnded); live leases are
// read on each IdleFor() call, so a lease that ends by expiry (without an
// RPC) starts the idle time when IdleFor() first sees it gone. Poll
// IdleFor() at least as often as the precision wanted.
//
// Thread-safe.
#ifndef PORTLEASE_SERVER_SERVICE_IDLE_TRACKER_H_
#define PORTLEASE_SERVER_SERVICE_IDLE_TRACKER_H_

#include <cstdint>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/clock.h"

namespace portlease {

class IdleTracker {
 public:
  // `clock` must outlive the tracker; `live_leases` returns the number of
  // live leases (called without the tracker's lock held). The idle time
  // starts at construction.
  IdleTracker(Clock* clock, std::function<uint32_t()> live_leases);
  IdleTracker(const IdleTracker&) = delete;
  IdleTracker& operator=(const IdleTracker&) = delete;

  // An RPC started; each is matched by one CallEnded.
  void CallStarted();
  // An RPC (or stream) ended; the idle time starts again now.
  void CallEnded();

  // Zero while an RPC is in flight or a lease is live; otherwise the time
  // since the last RPC ended, the last lease was seen live, or
  // construction, whichever came last.
  absl::Duration IdleFor();

  // RPCs in flight now.
  uint32_t calls_in_flight();

 private:
  Clock* const clock_;
  const std::function<uint32_t()> live_leases_;
  absl::Mutex mu_;
  uint32_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  // Monotonic time of the last moment the server was seen busy.
  absl::Duration last_busy_ ABSL_GUARDED_BY(mu_);
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_SERVICE_IDLE_TRACKER_H_
