// PoolStats and PoolChange: the pool's counters, and the pool after SetPool.
#ifndef PORTLEASE_SERVER_CORE_POOL_STATS_H_
#define PORTLEASE_SERVER_CORE_POOL_STATS_H_

#include <cstdint>
#include <vector>

#include "server/core/lease.h"
#include "server/core/pool_config.h"

namespace portlease {

struct PoolStats {
  uint32_t pool_size = 0;
  uint32_t free = 0;
  uint32_t leased = 0;
  uint32_t quarantined = 0;
  uint32_t draining = 0;
  uint32_t busy = 0;
  // Taken out of service by DrainPort.
  uint32_t disabled = 0;
  uint32_t largest_free_block = 0;
  uint32_t live_leases = 0;
  uint32_t draining_leases = 0;
  uint32_t waiters = 0;
};

// The pool after SetPool.
struct PoolChange {
  // The pool and excluded ports now in force, as given.
  std::vector<PortRange> pool;
  std::vector<Port> exclude;
  // Ports that can be granted: the pool minus the excluded ports (the
  // always-excluded ones too).
  uint32_t pool_size = 0;
  // Live leases holding at least one port outside the new pool.
  uint32_t leases_outside_pool = 0;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_POOL_STATS_H_
