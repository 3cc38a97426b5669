#include "cli_common/acquire_flow.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/conventions/exit_codes.h"
#include "cli_common/args.h"
#include "cli_common/signal_watch.h"

namespace portlease {
namespace {

// The server cannot be used: down, not answering, or its socket refuses
// this user (PERMISSION_DENIED: Acquire has no other reason to refuse).
bool Unreachable(const absl::Status& status, absl::Duration wait) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kPermissionDenied ||
         (status.code() == absl::StatusCode::kDeadlineExceeded &&
          wait <= absl::ZeroDuration());
}

}  // namespace

absl::StatusOr<absl::Duration> ConnectTimeoutSetting(
    const std::string& flag_value, const VariableLookup& environment) {
  if (!flag_value.empty()) {
    return ParseFlagDuration("connect-timeout", flag_value);
  }
  std::optional<std::string> env = environment("PORTLEASE_CONNECT_TIMEOUT");
  if (env.has_value() && !env->empty()) {
    absl::StatusOr<absl::Duration> d =
        ParseFlagDuration("connect-timeout", *env);
    if (!d.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "PORTLEASE_CONNECT_TIMEOUT=", *env, ": want a duration (e.g. 10s)"));
    }
    return d;
  }
  return kDefaultConnectTimeout;
}

void EndCancelledAcquire(const Client& client, AcquireSpec spec) {
  client.ClearCancellation();
  spec.wait = absl::ZeroDuration();
  absl::StatusOr<v1::Lease> lease = client.Acquire(spec);
  if (lease.ok()) {
    client.Release(lease->lease_id(), absl::Seconds(1), lease->fencing_token())
        .IgnoreError();
  }
}

std::string CancelledMessage(int sig) {
  return absl::StrCat("interrupted by ", SignalName(sig),
                      " while waiting for the server or for ports; no lease "
                      "kept");
}

AcquireSpec SpecFromRequest(const PortRequest& request, absl::Duration ttl,
                            bool udp) {
  AcquireSpec spec;
  if (request.profile.has_value()) {
    for (const v1::Profile::Port& port : request.profile->ports()) {
      spec.names.push_back(port.name());
    }
    spec.udp = udp || request.profile->udp();
  } else {
    spec.count = request.count;
    spec.udp = udp;
  }
  spec.ttl = ttl;
  spec.request_id = RandomRequestId();
  return spec;
}

std::string AcquireErrorMessage(const absl::Status& status,
                                const std::string& where, absl::Duration wait) {
  if (Unreachable(status, wait)) {
    return absl::StrCat(status.code() == absl::StatusCode::kPermissionDenied
                            ? "cannot use portleased at "
                            : "cannot reach portleased at ",
                        where, ": ", status.message());
  }
  switch (status.code()) {
    case absl::StatusCode::kResourceExhausted:
      // A per-caller limit (--max-leases-per-owner, --max-ports-per-owner)
      // is never queued: waiting would not help, ending leases would.
      if (absl::StrContains(status.message(), "-per-owner=")) {
        return absl::StrCat("caller limit reached: ", status.message());
      }
      return absl::StrCat("pool exhausted: ", status.message(),
                          " (use --wait DURATION to queue)");
    case absl::StatusCode::kDeadlineExceeded:
      return absl::StrCat("no ports became free within ",
                          absl::FormatDuration(wait), ": ", status.message());
    case absl::StatusCode::kInvalidArgument:
      return absl::StrCat("request refused: ", status.message());
    default:
      return absl::StrCat("acquire failed: ", status.ToString());
  }
}

int AcquireErrorExitCode(const absl::Status& status, absl::Duration wait) {
  if (Unreachable(status, wait)) return kExitUnavailable;
  switch (status.code()) {
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitTempFail;
    case absl::StatusCode::kInvalidArgument:
      return kExitUsage;
    default:
      return 1;
  }
}

}  // namespace portlease
