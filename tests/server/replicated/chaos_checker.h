// The replicated chaos test's client logs and their independent checker.
//
// Each client of the chaos test (chaos_test.cc) writes one line per call,
// with two wall-clock times in Unix microseconds: `sent`, taken before the
// call was made, and `answered`, taken after its answer arrived:
//
//   SENT ANSWERED ACQUIRED LEASE_ID REQUEST_ID PORT,PORT,... TOKEN EXPIRY
//   SENT ANSWERED RENEWED LEASE_ID EXPIRY
//   SENT ANSWERED RELEASED LEASE_ID
//   SENT ANSWERED FAILED OP ID CODE MESSAGE...
//
// EXPIRY is the lease's expires_at as answered (Unix microseconds); OP is
// acquire, renew or release; ID is the request_id for acquire and the
// lease id otherwise; CODE is absl::StatusCodeToString's name. The Format*
// functions write these lines; CheckChaosLogs reads nothing but them.
//
// What the checker proves, from the logs alone:
//   - no port was held by two acknowledged leases at once. An acknowledged
//     lease holds its ports from the ACQUIRED answer until the earlier of
//     the first Release's `sent` and its last acknowledged expiry. Both
//     ends are conservative: the server granted it before the answer came,
//     and it could not have ended it before the release was sent or the
//     acknowledged expiry passed. (A Renew that timed out but was applied
//     late only extends a lease whose renewals all ask for one TTL, at
//     least its grant's, as the test's clients do.) A failed Acquire may
//     still have been granted, but its ports are unknown to the log and
//     nobody was told it holds them: it takes part in no overlap. An
//     Acquire retried with the same request_id that is answered with the
//     lease granted earlier counts from that answer;
//   - no acknowledged lease was lost: a Renew or Release answered NOT_FOUND
//     or FAILED_PRECONDITION before the lease's last acknowledged expiry,
//     and before any Release of it was sent, is a loss (the server decided
//     before its answer arrived, so the lease ended early). Leases here are
//     never held (no Hold stream), so nothing else may end them early.
//     Answers after the expiry are counted as expired, not lost;
//   - fencing tokens grow: when lease A's grant was answered before lease
//     B's request was first sent and they share a port, A's token is below
//     B's (B's grant transaction came later in etcd's order);
//   - one request, one lease: two ACQUIRED answers of one request_id name
//     the same lease;
//   - every failure is a clear gRPC status: not OK, not UNKNOWN, and with
//     a message. UNAVAILABLE, DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED are
//     expected under chaos and only counted;
//   - every line parses.
#ifndef PORTLEASE_TESTS_SERVER_REPLICATED_CHAOS_CHECKER_H_
#define PORTLEASE_TESTS_SERVER_REPLICATED_CHAOS_CHECKER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace portlease::chaos {

std::string FormatAcquired(absl::Time sent, absl::Time answered,
                           const std::string& lease_id,
                           const std::string& request_id, uint32_t base_port,
                           uint32_t count, uint64_t token, absl::Time expiry);
std::string FormatRenewed(absl::Time sent, absl::Time answered,
                          const std::string& lease_id, absl::Time expiry);
std::string FormatReleased(absl::Time sent, absl::Time answered,
                           const std::string& lease_id);
// `op`: acquire, renew or release; `id` as above.
std::string FormatFailed(absl::Time sent, absl::Time answered,
                         const std::string& op, const std::string& id,
                         const absl::Status& status);

struct ChaosCheck {
  int64_t calls = 0;
  int64_t acks = 0;
  // Failed calls by code name ("UNAVAILABLE": 12, ...).
  std::map<std::string, int64_t> failures;
  int64_t leases = 0;           // distinct acknowledged leases
  int64_t ports_checked = 0;    // distinct ports of acknowledged leases
  int64_t expired_answers = 0;  // NOT_FOUND after the acknowledged expiry
  // Violations, one line each.
  std::vector<std::string> overlaps;
  std::vector<std::string> losses;
  std::vector<std::string> fencing;    // token order, one request two leases
  std::vector<std::string> unclear;    // UNKNOWN, OK or empty message
  std::vector<std::string> malformed;  // lines that do not parse

  bool ok() const {
    return overlaps.empty() && losses.empty() && fencing.empty() &&
           unclear.empty() && malformed.empty();
  }
  // "calls=... acks=... failures={...} ports_checked=... overlaps=0 ..."
  std::string Summary() const;
  // Every violation, one per line (at most `limit` per kind).
  std::string Violations(size_t limit = 20) const;
};

// Checks the logs, one text per client (lines as above, in call order).
ChaosCheck CheckChaosLogs(const std::vector<std::string>& logs);

}  // namespace portlease::chaos

#endif  // PORTLEASE_TESTS_SERVER_REPLICATED_CHAOS_CHECKER_H_
