// LeaseManager's per-caller shares: what each caller holds in live leases,
// and the check of a request against max_leases_per_owner and
// max_ports_per_owner (the rule itself is RequestRules::CheckOwnerShare).
#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "server/core/lease_manager.h"

namespace portlease {

void LeaseManager::CountOwner(const LeaseRecord& record, int delta) {
  if (!rules_.LimitsOwners()) return;
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

absl::Status LeaseManager::CheckOwnerLimit(const AcquireParams& params) {
  if (!rules_.LimitsOwners()) return absl::OkStatus();
  const std::string& key = params.caller.id;
  if (!params.request_id.empty() &&
      by_request_id_.contains(RequestKey(key, params.request_id))) {
    return absl::OkStatus();  // a retry: answered with the existing lease
  }
  if (key.empty()) return absl::OkStatus();
  auto it = live_by_owner_.find(key);
  const OwnerShare held =
      it == live_by_owner_.end() ? OwnerShare{} : it->second;
  return rules_.CheckOwnerShare(key, held, RequestedPorts(params));
}

}  // namespace portlease
