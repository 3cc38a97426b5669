// Acquiring from the command line, shared by lease-run and `portlease
// acquire`: the spec from --ports/--count/--profile, the --wait flow with
// its progress line, and one-line error messages with exit codes.
#ifndef PORTLEASE_CLIENT_CLI_COMMON_ACQUIRE_FLOW_H_
#define PORTLEASE_CLIENT_CLI_COMMON_ACQUIRE_FLOW_H_

#include <functional>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "portlease/client.h"
#include "portlease/profile.h"
#include "portlease/template.h"

namespace portlease {

// The AcquireSpec for `request` (names from the profile, or count), with a
// fresh request_id so that retries and the --wait retry are idempotent.
AcquireSpec SpecFromRequest(const PortRequest& request, absl::Duration ttl,
                            bool udp);

// Calls acquire(spec) without waiting; when that fails with
// RESOURCE_EXHAUSTED and `wait` is positive, prints one progress line
// ("<program>: pool busy (...); waiting up to 5m...") to `err` and calls
// acquire again with spec.wait = wait.
template <typename T>
absl::StatusOr<T> AcquireWithWait(
    AcquireSpec spec, absl::Duration wait, std::ostream& err,
    absl::string_view program,
    const std::function<absl::StatusOr<T>(const AcquireSpec&)>& acquire) {
  spec.wait = absl::ZeroDuration();
  absl::StatusOr<T> result = acquire(spec);
  if (result.ok() || wait <= absl::ZeroDuration() ||
      result.status().code() != absl::StatusCode::kResourceExhausted) {
    return result;
  }
  err << program << ": pool busy (" << result.status().message()
      << "); waiting up to " << absl::FormatDuration(wait) << " for ports..."
      << std::endl;
  spec.wait = wait;
  return acquire(spec);
}

// After an Acquire cancelled by a signal: ends the lease the server may
// have granted for spec.request_id just before the cancel reached it (an
// Acquire with the same request_id returns it; none waits). Clears the
// client's cancellation first.
void EndCancelledAcquire(const Client& client, AcquireSpec spec);

// One line for a wait ended by `sig`: "interrupted by SIGINT while waiting
// for ports; no lease kept".
std::string CancelledMessage(int sig);

// The default connect deadline of lease-run and portlease.
inline constexpr absl::Duration kDefaultConnectTimeout = absl::Seconds(10);

// The connect deadline (ClientOptions::connect_timeout): `flag_value`
// (--connect-timeout) when not empty, else $PORTLEASE_CONNECT_TIMEOUT from
// `environment` when set, else kDefaultConnectTimeout. INVALID_ARGUMENT
// naming the flag or variable for a bad duration.
absl::StatusOr<absl::Duration> ConnectTimeoutSetting(
    const std::string& flag_value, const VariableLookup& environment);

// A one-line message (without program prefix) for a failed acquire from
// the server described by `where`.
std::string AcquireErrorMessage(const absl::Status& status,
                                const std::string& where, absl::Duration wait);

// The exit code for a failed acquire: 69 unreachable, 75 exhausted or wait
// timed out, 2 invalid request, 1 otherwise.
int AcquireErrorExitCode(const absl::Status& status, absl::Duration wait);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_CLI_COMMON_ACQUIRE_FLOW_H_
