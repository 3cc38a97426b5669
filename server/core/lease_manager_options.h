// LeaseManagerOptions: the lease rules' settings, their validation, and the
// default lease id generator.
#ifndef PORTLEASE_SERVER_CORE_LEASE_MANAGER_OPTIONS_H_
#define PORTLEASE_SERVER_CORE_LEASE_MANAGER_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/core/lease.h"
#include "server/core/lease_event.h"
#include "server/core/pool_config.h"
#include "server/core/port_claims.h"

namespace portlease {

struct LeaseManagerOptions {
  // The pool's ranges and the ports never granted from them; Create and
  // SetPool make them a PoolConfig fitted to `pool_fit` (whose
  // always-excluded ports are never granted either).
  std::vector<PortRange> pool;
  std::vector<Port> exclude;
  PoolFit pool_fit;
  // TTL of a lease when the request names none.
  absl::Duration default_ttl = absl::Seconds(60);
  // Longest TTL granted; longer requests are INVALID_ARGUMENT.
  absl::Duration max_ttl = absl::Hours(24);
  // Shortest TTL granted; shorter requests are INVALID_ARGUMENT.
  absl::Duration min_ttl = absl::Seconds(1);
  // How long a lease survives its last Hold stream breaking.
  absl::Duration hold_grace = absl::Seconds(2);
  // How long a lease granted held (AcquireParams::hold) waits for its
  // first Hold stream.
  absl::Duration hold_attach_window = absl::Seconds(10);
  // How long a released or expired port stays out of the pool.
  absl::Duration cooldown = absl::Seconds(30);
  // How long a port found bound by another process stays out of the pool.
  absl::Duration busy_backoff = absl::Seconds(10);
  // How often a draining lease's ports are probed again.
  absl::Duration drain_probe_interval = absl::Seconds(1);
  // Most ports in one lease.
  uint32_t max_ports_per_lease = 64;
  // Owner metadata bounds.
  uint32_t max_owner_entries = 32;
  uint32_t max_owner_key_bytes = 64;
  uint32_t max_owner_value_bytes = 1024;
  uint32_t max_request_id_bytes = 128;
  // Most requests queued by AcquireOrWait at once.
  uint32_t max_waiters = 1024;
  // Most live leases one caller (AcquireParams::caller, the identity the
  // transport proved, never the owner metadata) may hold at once; 0 means
  // no limit. Leases with an empty caller are not counted. More is
  // RESOURCE_EXHAUSTED, never queued.
  uint32_t max_leases_per_owner = 256;
  // Most ports one caller (as above) may hold in live leases at once; 0
  // means no limit. A request that would take the caller past it is
  // RESOURCE_EXHAUSTED, never queued. portleased's default is a tenth of
  // the pool, but never less than max_ports_per_lease.
  uint32_t max_ports_per_owner = 0;
  // Most candidate blocks probed per request before giving up.
  uint32_t max_probes_per_request = 32;
  // Generates lease ids; the default reads 128 bits from getrandom(2).
  std::function<std::string()> new_id;
  // Receives every event, under the manager's lock: keep it cheap.
  std::function<void(LeaseEvent)> on_event;
  // Host-wide claims shared with the other servers on the host; must
  // outlive the manager. Unset: none (NoClaims).
  PortClaims* claims = nullptr;
};

// INVALID_ARGUMENT when `options` cannot run a manager: an empty pool, TTL
// bounds out of order, no ports per lease or no probes per request.
absl::Status ValidateOptions(const LeaseManagerOptions& options);

// 128 random bits from getrandom(2), as 32 lowercase hex digits. Aborts
// when no entropy can be read: never hands out guessable ids.
std::string RandomLeaseId();

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_LEASE_MANAGER_OPTIONS_H_
