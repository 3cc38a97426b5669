#include "server/core/lease_backend.h"

#include "absl/strings/str_cat.h"

namespace portlease {
namespace {

// A token for a lease that carries none (its token is 0).
absl::Status NotThisLeasesToken(uint64_t fencing_token) {
  return absl::NotFoundError(absl::StrCat(
      "lease not found: fencing token ", fencing_token,
      " is not this lease's (this server's leases carry none); the lease was "
      "granted again"));
}

}  // namespace

absl::StatusOr<LeaseRecord> LeaseBackend::Renew(absl::string_view id,
                                                absl::Duration ttl,
                                                const Principal& by,
                                                uint64_t fencing_token) {
  if (fencing_token != 0) return NotThisLeasesToken(fencing_token);
  return Renew(id, ttl, by);
}

absl::Status LeaseBackend::Release(absl::string_view id, const Principal& by,
                                   uint64_t fencing_token) {
  if (fencing_token != 0) return NotThisLeasesToken(fencing_token);
  return Release(id, by);
}

}  // namespace portlease
