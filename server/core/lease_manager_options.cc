#include "server/core/lease_manager_options.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace portlease {

absl::Status ValidateOptions(const LeaseManagerOptions& options) {
  if (options.pool.empty()) {
    return absl::InvalidArgumentError("the port pool is empty");
  }
  if (options.min_ttl <= absl::ZeroDuration() ||
      options.max_ttl < options.min_ttl ||
      options.default_ttl < options.min_ttl ||
      options.default_ttl > options.max_ttl) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TTL bounds must satisfy 0 < min (", absl::FormatDuration(options.min_ttl),
        ") <= default (", absl::FormatDuration(options.default_ttl),
        ") <= max (", absl::FormatDuration(options.max_ttl), ")"));
  }
  if (options.max_ports_per_lease == 0 || options.max_probes_per_request == 0) {
    return absl::InvalidArgumentError(
        "max_ports_per_lease and max_probes_per_request must be positive");
  }
  return absl::OkStatus();
}

std::string RandomLeaseId() {
  char bytes[16];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) std::abort();  // No entropy: never hand out guessable ids.
    got += static_cast<size_t>(n);
  }
  return absl::BytesToHexString(absl::string_view(bytes, sizeof(bytes)));
}

}  // namespace portlease
