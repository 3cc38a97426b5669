// LeaseEvent: what happened to a lease or a port, for logs, metrics and the
// audit trail the store keeps with each change.
#ifndef PORTLEASE_SERVER_CORE_LEASE_EVENT_H_
#define PORTLEASE_SERVER_CORE_LEASE_EVENT_H_

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "server/core/lease.h"
#include "server/core/lease_store.h"
#include "server/core/principal.h"

namespace portlease {

// What happened to a lease or a port, for logs and metrics.
struct LeaseEvent {
  enum class Type {
    kGranted,
    kRenewed,
    kReleased,
    kExpired,
    kHolderLost,  // Hold grace ran out: reclaimed
    kDraining,    // ended, but ports still bound by someone
    kDrained,     // draining ports found free again
    kForeignBusy, // a port in the pool was found bound by another process
    kStoreError,
    kForceReleased,  // ended by an administrator (ForceRelease)
    kPortDrained,    // taken out of service by an administrator (DrainPort)
    kPortUndrained,  // put back into service (UndrainPort)
    kPoolChanged,    // the pool was replaced by an administrator (SetPool)
    kClaimLost,      // at start: another server claimed a stored lease's
                     // ports meanwhile; the lease ended
    kRecovering,     // lost state found at start: nothing is granted for
                     // the recovery window (detail: what was found)
    kRecovered,      // the recovery window is over (detail: re-attached)
    kReattached,     // a lease this server had lost, re-created from its
                     // holder's snapshot (Reattach)
  };
  Type type;
  // The lease concerned, when there is one.
  std::optional<LeaseRecord> lease;
  // The port concerned (kForeignBusy, kPortDrained, kPortUndrained,
  // kClaimLost).
  Port port = 0;
  std::string detail;
  // Who made the change: a Principal::id, or "server" for what the server
  // did on its own (expire, reclaim, draining, drained, foreign-busy,
  // claim-lost, store-error). Empty only in events built by hand.
  std::string by = {};
  // Set when a privileged caller ("root", "admin-token") acted on another
  // caller's lease: an override, logged as such.
  std::string privilege = {};
};
const char* LeaseEventName(LeaseEvent::Type type);

// The event of `type` on `lease` (may be null) or `port`, made by `by`
// (nullptr: the server). `by`'s privilege is recorded only when it acted on
// another caller's lease.
LeaseEvent MakeEvent(LeaseEvent::Type type, const LeaseRecord* lease,
                     Port port, std::string detail, const Principal* by);

// The audit record the store keeps with the change `event` describes,
// stamped `at`.
AuditEvent ToAuditEvent(LeaseEvent event, absl::Time at);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_LEASE_EVENT_H_
