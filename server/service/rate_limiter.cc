#include "server/service/rate_limiter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace portlease {

RateLimiter::RateLimiter(RateLimit limit, Clock* clock)
    : limit_(limit), clock_(clock) {}

absl::Status RateLimiter::Admit(absl::string_view caller) {
  if (limit_.per_second <= 0) return absl::OkStatus();
  const absl::Duration now = clock_->Monotonic();
  absl::MutexLock lock(&mu_);
  auto refill = [&](Bucket& b) {
    b.tokens = std::min(
        limit_.burst,
        b.tokens + absl::ToDoubleSeconds(now - b.updated) * limit_.per_second);
    b.updated = now;
  };
  auto it = buckets_.find(caller);
  if (it == buckets_.end()) {
    if (buckets_.size() >= limit_.max_callers) {
      // Forget the callers whose buckets are full again: they lose nothing.
      for (auto b = buckets_.begin(); b != buckets_.end();) {
        refill(b->second);
        if (b->second.tokens >= limit_.burst) {
          buckets_.erase(b++);
        } else {
          ++b;
        }
      }
    }
    it = buckets_.emplace(std::string(caller), Bucket{limit_.burst, now}).first;
  }
  Bucket& bucket = it->second;
  refill(bucket);
  if (bucket.tokens < 1) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many requests from ", caller, ": at most ", limit_.per_second,
        " per second (bursts of ", limit_.burst,
        ") per caller; slow down and retry"));
  }
  bucket.tokens -= 1;
  return absl::OkStatus();
}

}  // namespace portlease
