// AcquireParams: what a client asks for.
#ifndef PORTLEASE_SERVER_CORE_ACQUIRE_PARAMS_H_
#define PORTLEASE_SERVER_CORE_ACQUIRE_PARAMS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/lease.h"
#include "server/core/principal.h"

namespace portlease {

// What a client asks for. Exactly one of names and count is set.
struct AcquireParams {
  std::vector<std::string> names;
  uint32_t count = 0;
  // Zero: the default TTL.
  absl::Duration ttl = absl::ZeroDuration();
  Metadata owner;
  // Idempotency key, scoped to `caller`.
  std::string request_id;
  bool udp = false;
  // The caller opens a Hold stream right after the grant (ScopedLease,
  // lease-run): the lease is stored held, as a first Hold would store it,
  // and is reclaimed when no stream attaches within hold_attach_window.
  // Spares the caller waiting for its first Hold answer before it may rely
  // on the lease, and the store a second commit.
  bool hold = false;
  // Who asks; stored as LeaseRecord::caller. Its privilege plays no part
  // in a grant.
  Principal caller;
};

// How many ports `params` asks for: its names, or its count. Meaningful
// when at most one of them is set (LeaseManager::Validate refuses both).
inline uint32_t RequestedPorts(const AcquireParams& params) {
  return params.names.empty() ? params.count
                              : static_cast<uint32_t>(params.names.size());
}

// The answer to a request that may wait (LeaseBackend::AcquireOrWait).
using AcquireCallback = absl::AnyInvocable<void(absl::StatusOr<LeaseRecord>)>;

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_ACQUIRE_PARAMS_H_
