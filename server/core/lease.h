// Lease: the core's value types for leases and ports.
#ifndef PORTLEASE_SERVER_CORE_LEASE_H_
#define PORTLEASE_SERVER_CORE_LEASE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/port/port.h"  // Port

namespace portlease {

// Free-form owner metadata: CI job id, host, pid, user, command.
using Metadata = std::map<std::string, std::string>;

enum class LeaseState {
  kLive = 1,
  // Ended, but some port is still bound by a process: its ports stay out of
  // the pool until a probe finds them free.
  kDraining = 2,
};

// One lease: `count` contiguous ports starting at `base`.
struct LeaseRecord {
  // 32 lowercase hex characters (128 random bits). The lease's secret.
  std::string id;
  // Port names in request order; empty for leases requested by count,
  // otherwise names.size() == count and names[i] is port base + i.
  std::vector<std::string> names;
  Port base = 0;
  uint32_t count = 0;
  bool udp = false;
  Metadata owner;
  // Client idempotency key; may be empty. Scoped to `caller`: the same key
  // from another caller is another request.
  std::string request_id;
  // Who acquired the lease (Principal::id, principal.h): only this caller,
  // root or the admin token may renew, hold, release or get it. Empty for
  // leases stored before callers were recorded (see LegacyPrincipal).
  std::string caller;
  absl::Time created_at = absl::InfinitePast();
  // Wall-clock expiry, as last granted or renewed.
  absl::Time expires_at = absl::InfinitePast();
  absl::Duration ttl = absl::ZeroDuration();
  LeaseState state = LeaseState::kLive;
  // A Hold stream was attached to the lease (and it is a live lease): after
  // a restart its holder gets one hold grace to attach again, else the
  // lease is reclaimed, as if its stream had broken at the restart.
  bool held = false;
  // A replicated backend's fencing token: the store revision that created
  // the lease (increasing with every grant, cluster-wide), so that a call
  // carrying an older token cannot act on a later grant of the same ports.
  // 0 for the single-host backend's leases (LeaseManager; not stored).
  uint64_t fencing_token = 0;

  // The first characters of id, safe to show in listings and logs.
  std::string IdPrefix() const { return id.substr(0, 8); }
  Port last() const { return static_cast<Port>(base + count - 1); }
  bool operator==(const LeaseRecord&) const = default;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_LEASE_H_
