// LeaseManager's per-caller limits (max_leases_per_owner,
// max_ports_per_owner) and the pool-size check: what one caller may hold.
#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/core/lease_manager.h"

namespace portlease {

void LeaseManager::CountOwner(const LeaseRecord& record, int delta) {
  if (options_.max_leases_per_owner == 0 && options_.max_ports_per_owner == 0) {
    return;
  }
  const std::string& key = record.caller;
  if (key.empty()) return;
  if (delta > 0) {
    OwnerShare& share = live_by_owner_[key];
    ++share.leases;
    share.ports += record.count;
    return;
  }
  auto it = live_by_owner_.find(key);
  if (it == live_by_owner_.end()) return;
  --it->second.leases;
  it->second.ports -= std::min(it->second.ports, record.count);
  if (it->second.leases == 0) live_by_owner_.erase(it);
}

absl::Status LeaseManager::CheckFitsPool(const AcquireParams& params) const {
  const size_t asked = RequestedPorts(params);
  const size_t pool = allocator_.pool_size();
  if (asked <= pool) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "asked for ", asked, " ports but the whole pool has ", pool,
      "; no wait can grant that: ask for fewer, or widen the server's "
      "--pool"));
}

absl::Status LeaseManager::CheckOwnerLimit(const AcquireParams& params) {
  if (options_.max_leases_per_owner == 0 && options_.max_ports_per_owner == 0) {
    return absl::OkStatus();
  }
  const std::string& key = params.caller.id;
  if (!params.request_id.empty() &&
      by_request_id_.contains(RequestKey(key, params.request_id))) {
    return absl::OkStatus();  // a retry: answered with the existing lease
  }
  if (key.empty()) return absl::OkStatus();
  auto it = live_by_owner_.find(key);
  const OwnerShare held =
      it == live_by_owner_.end() ? OwnerShare{} : it->second;
  if (options_.max_leases_per_owner > 0 &&
      held.leases >= options_.max_leases_per_owner) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "caller ", key, " already holds ", held.leases,
        " live leases, the most one caller may hold (--max-leases-per-owner=",
        options_.max_leases_per_owner,
        "); release leases before asking for more"));
  }
  const uint64_t asked = RequestedPorts(params);
  if (options_.max_ports_per_owner > 0 &&
      held.ports + asked > options_.max_ports_per_owner) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "caller ", key, " holds ", held.ports,
        " ports in live leases and asks "
        "for ",
        asked, "; one caller may hold at most ", options_.max_ports_per_owner,
        " (--max-ports-per-owner=", options_.max_ports_per_owner,
        "); release leases or ask for fewer ports"));
  }
  return absl::OkStatus();
}

}  // namespace portlease
