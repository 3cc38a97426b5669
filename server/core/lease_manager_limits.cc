// LeaseManager's check of a request against max_leases_per_owner and
// max_ports_per_owner: what the caller holds (LeaseTable::Share) against
// the rule (RequestRules::CheckOwnerShare).
#include <string>

#include "absl/status/status.h"
#include "server/core/lease_manager.h"

namespace portlease {

absl::Status LeaseManager::CheckOwnerLimit(const AcquireParams& params) {
  if (!rules_.LimitsOwners()) return absl::OkStatus();
  const std::string& key = params.caller.id;
  if (!params.request_id.empty() &&
      leases_.FindByRequest(key, params.request_id) != nullptr) {
    return absl::OkStatus();  // a retry: answered with the existing lease
  }
  if (key.empty()) return absl::OkStatus();
  return rules_.CheckOwnerShare(key, leases_.Share(key), RequestedPorts(params));
}

}  // namespace portlease
