// RequestRules: what a request may ask for under a manager's options, and
// the messages that refuse it. Pure functions of the options and their
// arguments: no pool, no store, no lock.
#ifndef PORTLEASE_SERVER_CORE_REQUEST_RULES_H_
#define PORTLEASE_SERVER_CORE_REQUEST_RULES_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/core/acquire_params.h"
#include "server/core/lease.h"
#include "server/core/lease_manager_options.h"
#include "server/core/principal.h"

namespace portlease {

// What one caller holds in live leases.
struct OwnerShare {
  uint32_t leases = 0;
  uint32_t ports = 0;
};

class RequestRules {
 public:
  explicit RequestRules(const LeaseManagerOptions& options);

  // Checks a request without touching the pool. INVALID_ARGUMENT with a
  // message naming the bad field.
  absl::Status Validate(const AcquireParams& params) const;

  // INVALID_ARGUMENT when `ttl` is negative or outside [min_ttl, max_ttl];
  // zero (the default) is fine.
  absl::Status CheckTtl(absl::Duration ttl) const;
  // The ttl a grant gets for `requested`: the default when zero.
  absl::Duration GrantTtl(absl::Duration requested) const;
  // `ttl` within today's [min_ttl, max_ttl]: for a lease whose ttl was
  // granted under other limits (Renew without a ttl, Reattach).
  absl::Duration ClampTtl(absl::Duration ttl) const;

  // INVALID_ARGUMENT when the request asks for more ports than the whole
  // pool (`pool_size`) has: no wait can grant it.
  absl::Status CheckFitsPool(const AcquireParams& params,
                             size_t pool_size) const;

  // True when a per-caller limit is set, so callers' shares are counted.
  bool LimitsOwners() const;
  // RESOURCE_EXHAUSTED, naming the limit and its flag, when `caller`, who
  // holds `held`, may not take `asked` more ports in one more lease.
  absl::Status CheckOwnerShare(absl::string_view caller,
                               const OwnerShare& held, uint64_t asked) const;

 private:
  const LeaseManagerOptions options_;
};

// True when `lease` is what `params` asks for (an idempotent retry).
bool SameRequest(const LeaseRecord& lease, const AcquireParams& params);
// INVALID_ARGUMENT: `request_id` was already used for another request.
absl::Status RequestIdReused(absl::string_view request_id);

// ForceRelease names its lease by an id prefix (8 characters at least) or
// by a port, not both: INVALID_ARGUMENT otherwise.
absl::Status CheckForceReleaseTarget(absl::string_view id_prefix, Port port);
// How many live leases the target matched: OK for one, INVALID_ARGUMENT
// for several, NOT_FOUND for none.
absl::Status CheckForceReleaseMatches(absl::string_view id_prefix, Port port,
                                      size_t matches);

// A port name: 1-32 characters from a-z, 0-9, '_' and '-', starting with a
// letter.
bool ValidPortName(absl::string_view name);

// A full lease id: 32 lowercase hex digits.
bool IsLeaseId(absl::string_view id);

// True when a record's ports cannot be a block of the port space (no port,
// port 0, or past 65535).
bool PortsMalformed(const LeaseRecord& record);

// OK when `by` may act on `record` (its caller, or privileged);
// PERMISSION_DENIED naming both callers and `verb` otherwise.
absl::Status Authorize(const LeaseRecord& record, const Principal& by,
                       absl::string_view verb);

// The NOT_FOUND messages for a lease id: unknown; ended at start (`why`);
// a snapshot not re-attached (`why`).
absl::Status LeaseNotFound(absl::string_view id);
absl::Status LeaseEndedNotFound(absl::string_view id, absl::string_view why);
absl::Status NotReattached(absl::string_view id, absl::string_view why);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_REQUEST_RULES_H_
