// How portleased's main thread waits for the end: a stop signal, or, with
// --idle-exit, an idle time (service/idle_tracker.h) that reached the limit.
#ifndef PORTLEASE_SERVER_DAEMON_IDLE_H_
#define PORTLEASE_SERVER_DAEMON_IDLE_H_

#include <signal.h>

#include "absl/time/time.h"
#include "server/service/idle_tracker.h"

namespace portlease {

// Blocks until one of `signals` (blocked in every thread) arrives and
// returns its number, or, when `idle` is set and `idle_exit` positive,
// until idle->IdleFor() reaches `idle_exit` and returns 0. Checks the idle
// time at least every second (every idle_exit/4 when shorter).
int WaitForStop(const sigset_t& signals, IdleTracker* idle,
                absl::Duration idle_exit);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_DAEMON_IDLE_H_
