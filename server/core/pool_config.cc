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
          "connections take ports at random; choose a pool outside it"));
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

absl::StatusOr<PoolConfig> PoolConfig::Make(std::vector<PortRange> ranges,
                                            std::vector<Port> exclude,
                                            const PoolFit& fit) {
  if (ranges.empty()) return absl::InvalidArgumentError("the pool is empty");
  for (const PortRange& r : ranges) {
    if (r.lo == 0 || r.hi < r.lo) {
      return absl::InvalidArgumentError(absl::StrCat(
          "pool range ", r.lo, "-", r.hi, " is not LO-HI with 1 <= LO <= HI"));
    }
  }
  const std::string asked = FormatPortRanges(ranges);
  absl::StatusOr<std::vector<PortRange>> fitted =
      FitPool(std::move(ranges), fit.ephemeral, fit.policy);
  if (!fitted.ok()) return fitted.status();
  PoolConfig pool;
  pool.ranges_ = *std::move(fitted);
  pool.exclude_ = std::move(exclude);
  pool.excluded_ = pool.exclude_;
  pool.excluded_.insert(pool.excluded_.end(), fit.always_exclude.begin(),
                        fit.always_exclude.end());
  std::sort(pool.excluded_.begin(), pool.excluded_.end());
  pool.excluded_.erase(
      std::unique(pool.excluded_.begin(), pool.excluded_.end()),
      pool.excluded_.end());
  for (const PortRange& r : pool.ranges_) {
    const auto lo = std::lower_bound(pool.excluded_.begin(),
                                     pool.excluded_.end(), r.lo);
    const auto hi = std::upper_bound(lo, pool.excluded_.end(), r.hi);
    pool.size_ += r.size() - static_cast<uint32_t>(hi - lo);
  }
  if (pool.size_ == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the pool '", asked,
        "' has no port left once the excluded ports are taken out"));
  }
  return pool;
}

}  // namespace portlease
