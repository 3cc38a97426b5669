// RunCall: one etcd call over the members in turn, within one deadline,
// with the failover and ambiguity rules of etcd_client.h. Internal to
// server/etcd/.
#ifndef PORTLEASE_SERVER_ETCD_ETCD_CALL_H_
#define PORTLEASE_SERVER_ETCD_ETCD_CALL_H_

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "server/etcd/endpoints.h"
#include "server/etcd/wire.h"

namespace portlease::etcd::internal {

// Which failures of a member a call may retry on the next one.
enum class Retry {
  kIfNeverSent,   // writes: only when no member received the request
  kOnAnyFailure,  // reads and lease calls: repeating them is harmless
};

// What went wrong while the members were tried, for the caller's message.
struct Attempts {
  std::vector<std::string> tried;
  grpc::Status last;
  bool maybe_applied = false;

  absl::Status ToStatus(absl::string_view call, const Endpoints& endpoints, Retry retry) const {
    std::string message = absl::StrCat("etcd ", call, ": no member answered (tried ",
                                       absl::StrJoin(tried, ", "), " of ", endpoints.List(),
                                       "): ", last.error_message());
    if (maybe_applied && retry == Retry::kIfNeverSent) {
      absl::StrAppend(&message,
                      "; the request may have been applied: read the keys back before retrying");
    }
    return absl::Status(static_cast<absl::StatusCode>(last.error_code()), message);
  }
};

// Runs `rpc(const Endpoint&, grpc::ClientContext*) -> grpc::Status` on the
// preferred member, then on the next ones as `retry` allows, all within one
// call_timeout. A member that fails is marked so that the next call starts
// elsewhere. With several members a retryable call gives one at most half
// the deadline, so that a stopped member leaves time for another.
template <typename Rpc>
absl::Status RunCall(Endpoints& endpoints, absl::string_view call, Retry retry, Rpc rpc) {
  const absl::Time deadline = absl::Now() + endpoints.call_timeout();
  const bool split = retry == Retry::kOnAnyFailure && endpoints.size() > 1;
  Attempts attempts;
  for (size_t attempt = 0; attempt < 2 * endpoints.size(); ++attempt) {
    const absl::Time now = absl::Now();
    if (attempt > 0 && now >= deadline) break;
    const size_t i = endpoints.Pick();
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(
        split ? std::min(deadline, now + endpoints.call_timeout() / 2) : deadline));
    grpc::Status status = rpc(endpoints.at(i), &context);
    if (status.ok()) return absl::OkStatus();
    if (!IsMemberFailure(status)) return EtcdError(call, status);
    endpoints.MarkFailed(i);
    if (std::find(attempts.tried.begin(), attempts.tried.end(), endpoints.at(i).url) ==
        attempts.tried.end()) {
      attempts.tried.push_back(endpoints.at(i).url);
    }
    attempts.last = status;
    if (!NeverSent(status)) {
      attempts.maybe_applied = true;
      if (retry == Retry::kIfNeverSent) break;
    }
  }
  return attempts.ToStatus(call, endpoints, retry);
}


}  // namespace portlease::etcd::internal

#endif  // PORTLEASE_SERVER_ETCD_ETCD_CALL_H_
