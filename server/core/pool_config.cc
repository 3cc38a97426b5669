#include "server/core/pool_config.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace portlease {

absl::StatusOr<std::vector<PortRange>> FitPool(std::vector<PortRange> pool,
                                               PortRange ephemeral,
                                               EphemeralPolicy policy) {
  std::sort(pool.begin(), pool.end(),
            [](const PortRange& a, const PortRange& b) { return a.lo < b.lo; });
  for (size_t i = 1; i < pool.size(); ++i) {
    if (pool[i].lo <= pool[i - 1].hi) {
      return absl::InvalidArgumentError(absl::StrCat(
          "pool ranges ", FormatPortRanges({pool[i - 1]}), " and ",
          FormatPortRanges({pool[i]}), " overlap"));
    }
  }
  std::vector<PortRange> fitted;
  for (const PortRange& r : pool) {
    const bool overlaps = r.lo <= ephemeral.hi && ephemeral.lo <= r.hi;
    if (!overlaps || policy == EphemeralPolicy::kAllow) {
      fitted.push_back(r);
      continue;
    }
    if (policy == EphemeralPolicy::kRefuse) {
      return absl::InvalidArgumentError(absl::StrCat(
          "pool range ", FormatPortRanges({r}),
          " overlaps the kernel's ephemeral port range ",
          FormatPortRanges({ephemeral}),
          " (/proc/sys/net/ipv4/ip_local_port_range), where outgoing "
          "connections take ports at random; choose a pool outside it, or "
          "pass --ephemeral=trim to cut the overlap out"));
    }
    if (r.lo < ephemeral.lo) {
      fitted.push_back({r.lo, static_cast<Port>(ephemeral.lo - 1)});
    }
    if (r.hi > ephemeral.hi) {
      fitted.push_back({static_cast<Port>(ephemeral.hi + 1), r.hi});
    }
  }
  // Merge ranges that touch.
  std::vector<PortRange> merged;
  for (const PortRange& r : fitted) {
    if (!merged.empty() && uint32_t{merged.back().hi} + 1 == r.lo) {
      merged.back().hi = r.hi;
    } else {
      merged.push_back(r);
    }
  }
  if (merged.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no port left in the pool after removing the ephemeral range ",
        FormatPortRanges({ephemeral}), "; choose a pool outside it"));
  }
  return merged;
}

std::vector<Port> WithM2DefaultPorts(std::vector<Port> exclude) {
  exclude.insert(exclude.end(), std::begin(kM2DefaultPorts),
                 std::end(kM2DefaultPorts));
  return exclude;
}

}  // namespace portlease
