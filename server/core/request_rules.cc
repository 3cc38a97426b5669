#include "server/core/request_rules.h"

#include <algorithm>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace portlease {
namespace {

// A ttl outside [min_ttl, max_ttl]. No mention of leaving it unset: a
// client may require one (portlease acquire does).
absl::Status TtlOutOfRange(absl::Duration ttl,
                           const LeaseManagerOptions& options) {
  return absl::InvalidArgumentError(absl::StrCat(
      "ttl ", absl::FormatDuration(ttl), " is out of range: ask for ",
      absl::FormatDuration(options.min_ttl), " to ",
      absl::FormatDuration(options.max_ttl),
      " (this server's limits)"));
}

absl::Status CheckPorts(const AcquireParams& params, uint32_t max) {
  if (!params.names.empty() && params.count != 0) {
    return absl::InvalidArgumentError(
        "set either names or count, not both (count is implied by names)");
  }
  if (params.names.empty() && params.count == 0) {
    return absl::InvalidArgumentError(
        "ask for ports: set names (e.g. redis,worker) or a count of at least 1");
  }
  if (params.names.size() > max || params.count > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        "asked for ", RequestedPorts(params), " ports; one lease holds at most ",
        max));
  }
  absl::flat_hash_set<absl::string_view> seen;
  for (const std::string& name : params.names) {
    if (!ValidPortName(name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad port name '", absl::CHexEscape(name.substr(0, 64)),
          "': use 1-32 characters from a-z, 0-9, '_' and '-', starting with a letter"));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("port name '", name, "' appears twice"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckOwnerAndRequestId(const AcquireParams& params,
                                    const LeaseManagerOptions& options) {
  // The limit is the client's: the entries the service adds do not count
  // against it: the peer_* keys (who called, as the transport says), and a
  // user copied from peer_user for a Unix-socket client that named none.
  size_t client_entries = static_cast<size_t>(std::count_if(
      params.owner.begin(), params.owner.end(), [](const auto& entry) {
        return !absl::StartsWith(entry.first, "peer_");
      }));
  const auto user = params.owner.find("user");
  const auto peer_user = params.owner.find("peer_user");
  if (user != params.owner.end() && peer_user != params.owner.end() &&
      user->second == peer_user->second) {
    --client_entries;
  }
  if (client_entries > options.max_owner_entries) {
    return absl::InvalidArgumentError(
        absl::StrCat("owner metadata has ", client_entries,
                     " entries; at most ", options.max_owner_entries));
  }
  for (const auto& [key, value] : params.owner) {
    if (key.empty() || key.size() > options.max_owner_key_bytes ||
        value.size() > options.max_owner_value_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "owner metadata entry '", absl::CHexEscape(key.substr(0, 64)),
          "' is empty or too long: keys 1-", options.max_owner_key_bytes,
          " bytes, values up to ", options.max_owner_value_bytes, " bytes"));
    }
  }
  if (params.request_id.size() > options.max_request_id_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "request_id is ", params.request_id.size(), " bytes; at most ",
        options.max_request_id_bytes));
  }
  return absl::OkStatus();
}

}  // namespace

RequestRules::RequestRules(const LeaseManagerOptions& options)
    : options_(options) {}

absl::Status RequestRules::Validate(const AcquireParams& params) const {
  absl::Status ports = CheckPorts(params, options_.max_ports_per_lease);
  if (!ports.ok()) return ports;
  absl::Status ttl = CheckTtl(params.ttl);
  if (!ttl.ok()) return ttl;
  return CheckOwnerAndRequestId(params, options_);
}

absl::Status RequestRules::CheckTtl(absl::Duration ttl) const {
  if (ttl < absl::ZeroDuration() ||
      (ttl != absl::ZeroDuration() &&
       (ttl < options_.min_ttl || ttl > options_.max_ttl))) {
    return TtlOutOfRange(ttl, options_);
  }
  return absl::OkStatus();
}

absl::Duration RequestRules::GrantTtl(absl::Duration requested) const {
  return requested == absl::ZeroDuration() ? options_.default_ttl : requested;
}

absl::Duration RequestRules::ClampTtl(absl::Duration ttl) const {
  return std::clamp(ttl, options_.min_ttl, options_.max_ttl);
}

absl::Status RequestRules::CheckFitsPool(const AcquireParams& params,
                                         size_t pool_size) const {
  const size_t asked = RequestedPorts(params);
  if (asked <= pool_size) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "asked for ", asked, " ports but the whole pool has ", pool_size,
      "; no wait can grant that: ask for fewer, or widen the server's "
      "pool"));
}

bool RequestRules::LimitsOwners() const {
  return options_.max_leases_per_owner != 0 ||
         options_.max_ports_per_owner != 0;
}

absl::Status RequestRules::CheckOwnerShare(absl::string_view caller,
                                           const OwnerShare& held,
                                           uint64_t asked) const {
  if (options_.max_leases_per_owner > 0 &&
      held.leases >= options_.max_leases_per_owner) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "caller ", caller, " already holds ", held.leases,
        " live leases, the most one caller may hold on this server (",
        options_.max_leases_per_owner,
        "); release leases before asking for more"));
  }
  if (options_.max_ports_per_owner > 0 &&
      held.ports + asked > options_.max_ports_per_owner) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "caller ", caller, " holds ", held.ports,
        " ports in live leases and asks "
        "for ",
        asked, "; one caller may hold at most ", options_.max_ports_per_owner,
        " ports on this server; release leases or ask for fewer ports"));
  }
  return absl::OkStatus();
}

bool SameRequest(const LeaseRecord& lease, const AcquireParams& params) {
  return lease.names == params.names && lease.count == RequestedPorts(params) &&
         lease.udp == params.udp;
}

absl::Status RequestIdReused(absl::string_view request_id) {
  return absl::InvalidArgumentError(
      absl::StrCat("request_id '", absl::CHexEscape(request_id),
                   "' was already used for a different request"));
}

absl::Status CheckForceReleaseTarget(absl::string_view id_prefix, Port port) {
  if (id_prefix.empty() == (port == 0)) {
    return absl::InvalidArgumentError(
        "name the lease to force-release by its id prefix or by a port, "
        "not both");
  }
  if (!id_prefix.empty() && id_prefix.size() < 8) {
    return absl::InvalidArgumentError(
        "a lease id prefix has at least 8 characters (as shown by list)");
  }
  return absl::OkStatus();
}

absl::Status CheckForceReleaseMatches(absl::string_view id_prefix, Port port,
                                      size_t matches) {
  if (matches > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lease id prefix ", absl::CHexEscape(id_prefix), " matches ", matches,
        " live leases; give more characters"));
  }
  if (matches == 0) {
    return absl::NotFoundError(
        id_prefix.empty() ? absl::StrCat("no live lease holds port ", port)
                          : absl::StrCat("no live lease id starts with ",
                                         absl::CHexEscape(id_prefix)));
  }
  return absl::OkStatus();
}

bool ValidPortName(absl::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  if (name[0] < 'a' || name[0] > 'z') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsLeaseId(absl::string_view id) {
  if (id.size() != 32) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

bool PortsMalformed(const LeaseRecord& record) {
  return record.count == 0 || record.base == 0 ||
         uint32_t{record.base} + record.count > 65536;
}

absl::Status Authorize(const LeaseRecord& record, const Principal& by,
                       absl::string_view verb) {
  if (by.privileged() || (!record.caller.empty() && record.caller == by.id)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "lease ", record.IdPrefix(), "... belongs to ",
      record.caller.empty() ? "an unrecorded caller" : record.caller, "; ",
      by.id.empty() ? "an unidentified caller" : by.id, " may not ", verb,
      " it (only its caller, root or the admin token may)"));
}

absl::Status LeaseNotFound(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat(
      "lease ", absl::CHexEscape(id.substr(0, 8)),
      "... not found: it was released, expired, reclaimed or never existed"));
}

absl::Status LeaseEndedNotFound(absl::string_view id, absl::string_view why) {
  return absl::NotFoundError(absl::StrCat(
      "lease ", absl::CHexEscape(id.substr(0, 8)), "... ended: ", why));
}

// NOT_FOUND for a snapshot that is not re-created: its holder's lease is
// lost, and the holder says so.
absl::Status NotReattached(absl::string_view id, absl::string_view why) {
  return absl::NotFoundError(absl::StrCat(
      "lease ", absl::CHexEscape(id.substr(0, 8)),
      "... is not known to this server and was not re-attached: ", why));
}

}  // namespace portlease
