// TimedLeaseStore: a LeaseStore decorator that measures how long each
// commit (Put, Delete) of the store it wraps takes, for the store commit
// latency metric. The core stays free of metrics.
//
//   SqliteLeaseStore sqlite = ...;
//   TimedLeaseStore store(&sqlite, &clock, put_histogram, delete_histogram);
//   LeaseManager::Create(options, &clock, &store, &prober);
//
// Thread-safe when the wrapped store is.
#ifndef PORTLEASE_SERVER_METRICS_TIMED_LEASE_STORE_H_
#define PORTLEASE_SERVER_METRICS_TIMED_LEASE_STORE_H_

#include <string>
#include <vector>

#include "server/core/clock.h"
#include "server/core/forwarding_lease_store.h"
#include "server/core/lease_store.h"
#include "server/metrics/metrics.h"

namespace portlease {

class TimedLeaseStore : public ForwardingLeaseStore {
 public:
  // Every pointer must outlive this store. Failed commits are counted in
  // `failures` (may be null) and timed too.
  TimedLeaseStore(LeaseStore* store, Clock* clock, Histogram* put,
                  Histogram* remove, Counter* failures);

  // Timed. The rest (loads, RecordEvent, the admin's SetPortDrained) are
  // not commits on the lease path and pass through untimed.
  absl::Status Put(const LeaseRecord& lease) override;
  absl::Status Delete(const std::string& id) override;
  // Timed as Put and Delete (the event rides in the same commit).
  absl::Status PutAudited(const LeaseRecord& lease,
                          const AuditEvent& event) override;
  absl::Status DeleteAudited(const std::string& id,
                             const AuditEvent& event) override;

 private:
  // Runs `commit`, observing its time in `histogram`.
  template <typename Commit>
  absl::Status Time(Histogram* histogram, Commit commit);

  Clock* const clock_;
  Histogram* const put_;
  Histogram* const remove_;
  Counter* const failures_;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_METRICS_TIMED_LEASE_STORE_H_
