// Pool configuration: one pipeline from the configured ranges and excluded
// ports to the pool a server grants from, used at start (portleased's
// --pool, --exclude, --always-exclude) and at runtime (SetPool). Port
// ranges and their text forms (PortRange, ParsePortRanges, FormatPortList,
// ParseEphemeralRange, ...) are common/port/port.h, included here for the
// core's callers.
//
// Example:
//   PoolFit fit;
//   fit.ephemeral = {32768, 60999};
//   fit.policy = EphemeralPolicy::kTrim;
//   fit.always_exclude = {6379};
//   absl::StatusOr<PoolConfig> pool =
//       PoolConfig::Make({{20000, 29999}}, /*exclude=*/{20100}, fit);
//   pool->size();  // 9998
#ifndef PORTLEASE_SERVER_CORE_POOL_CONFIG_H_
#define PORTLEASE_SERVER_CORE_POOL_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/port/port.h"
#include "server/core/lease.h"

namespace portlease {

enum class EphemeralPolicy {
  // A pool overlapping the ephemeral range is an error.
  kRefuse,
  // The overlap is cut out of the pool.
  kTrim,
  // The overlap is kept (the operator knows better).
  kAllow,
};

// What every pool of one server is fitted to, for the server's lifetime.
struct PoolFit {
  // The kernel's ephemeral port range; {0, 0}: nothing to fit around.
  PortRange ephemeral = {0, 0};
  EphemeralPolicy policy = EphemeralPolicy::kAllow;
  // Ports no pool ever grants, whatever its exclude list says.
  std::vector<Port> always_exclude;
};

// Returns `pool` fitted around `ephemeral` according to `policy`, sorted and
// merged. INVALID_ARGUMENT when ranges overlap each other, when the policy is
// kRefuse and the pool overlaps the ephemeral range (the message says which
// ports), or when nothing is left.
absl::StatusOr<std::vector<PortRange>> FitPool(std::vector<PortRange> pool,
                                               PortRange ephemeral,
                                               EphemeralPolicy policy);

// A checked pool: its ranges sorted, not overlapping and fitted, its
// excluded ports, and at least one port to grant.
class PoolConfig {
 public:
  // INVALID_ARGUMENT (nothing made) when a range is not LO-HI with
  // 1 <= LO <= HI, ranges overlap, `fit` refuses or leaves nothing (see
  // FitPool), or no port is left once the excluded ports are taken out.
  static absl::StatusOr<PoolConfig> Make(std::vector<PortRange> ranges,
                                         std::vector<Port> exclude,
                                         const PoolFit& fit);

  // Fitted, sorted, merged.
  const std::vector<PortRange>& ranges() const { return ranges_; }
  // As configured (without the always-excluded ports).
  const std::vector<Port>& exclude() const { return exclude_; }
  // Every port never granted: exclude() and the always-excluded ports.
  const std::vector<Port>& excluded() const { return excluded_; }
  // The ports in the ranges and not excluded.
  uint32_t size() const { return size_; }

 private:
  PoolConfig() = default;

  std::vector<PortRange> ranges_;
  std::vector<Port> exclude_;
  std::vector<Port> excluded_;
  uint32_t size_ = 0;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_POOL_CONFIG_H_
