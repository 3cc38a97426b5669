// RateLimiter: a token bucket per caller (PeerIdentity::key), so one busy
// or runaway client cannot starve the others.
//
//   RateLimiter limiter({.per_second = 200, .burst = 400}, &clock);
//   absl::Status ok = limiter.Admit("uid:1000");  // RESOURCE_EXHAUSTED when
//                                                 // the bucket is empty
//
// Thread-safe.
#ifndef PORTLEASE_SERVER_SERVICE_RATE_LIMITER_H_
#define PORTLEASE_SERVER_SERVICE_RATE_LIMITER_H_

#include <cstddef>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/clock.h"

namespace portlease {

struct RateLimit {
  // Sustained requests per second per caller; 0 disables the limit.
  double per_second = 200;
  // Requests a caller may make at once after being idle.
  double burst = 400;
  // Callers tracked at once; beyond it, idle (full) buckets are forgotten.
  size_t max_callers = 10000;
};

class RateLimiter {
 public:
  // `clock` (its monotonic time) must outlive the limiter.
  RateLimiter(RateLimit limit, Clock* clock);

  // Takes one token from `caller`'s bucket. RESOURCE_EXHAUSTED, naming the
  // caller and the limit, when it is empty.
  absl::Status Admit(absl::string_view caller);

 private:
  struct Bucket {
    double tokens;
    absl::Duration updated;
  };

  const RateLimit limit_;
  Clock* const clock_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_SERVICE_RATE_LIMITER_H_
