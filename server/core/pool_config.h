// Pool configuration: fitting the pool around the kernel's ephemeral port
// range and the excluded ports. Port ranges and their text forms
// (PortRange, ParsePortRanges, FormatPortList, ParseEphemeralRange, ...)
// are common/port/port.h, included here for the core's callers.
#ifndef PORTLEASE_SERVER_CORE_POOL_CONFIG_H_
#define PORTLEASE_SERVER_CORE_POOL_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/port/port.h"
#include "server/core/lease.h"

namespace portlease {

// The ports of the M2 example stack, always kept out of the pool: a service
// started with its default configuration must never collide with a lease.
inline constexpr Port kM2DefaultPorts[] = {6379, 7001, 8080, 8081, 9090};

// `exclude` and kM2DefaultPorts: the ports a pool built with `exclude`
// never grants.
std::vector<Port> WithM2DefaultPorts(std::vector<Port> exclude);

enum class EphemeralPolicy {
  // A pool overlapping the ephemeral range is an error.
  kRefuse,
  // The overlap is cut out of the pool.
  kTrim,
  // The overlap is kept (the operator knows better).
  kAllow,
};

// Returns `pool` fitted around `ephemeral` according to `policy`, sorted and
// merged. INVALID_ARGUMENT when ranges overlap each other, when the policy is
// kRefuse and the pool overlaps the ephemeral range (the message says which
// ports and how to fix it), or when nothing is left.
absl::StatusOr<std::vector<PortRange>> FitPool(std::vector<PortRange> pool,
                                               PortRange ephemeral,
                                               EphemeralPolicy policy);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_POOL_CONFIG_H_
