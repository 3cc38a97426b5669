// LeaseMetrics: portleased's Prometheus metrics, registered in a
// MetricsRegistry and fed by the lease manager's events, the service's
// Acquire completions and the store timing decorator.
//
//   portlease_lease_events_total{event="grant"|"renew"|"release"|...}
//   portlease_leases{state="live"|"draining"}
//   portlease_ports{state="free"|"leased"|"quarantined"|"draining"|"busy"|
//                   "disabled"}, portlease_pool_ports,
//   portlease_largest_free_block_ports
//   portlease_waiters
//   portlease_grant_duration_seconds (histogram; granted Acquires, queueing
//     included), portlease_acquire_failures_total{code=...}
//   portlease_store_commit_duration_seconds{op="put"|"delete"} (histogram),
//   portlease_store_commit_failures_total
//   portlease_probe_failures_total (a probe found a pool port bound by
//     another process)
//   portlease_build_info{version=...} 1
//
// Thread-safe.
#ifndef PORTLEASE_SERVER_DAEMON_LEASE_METRICS_H_
#define PORTLEASE_SERVER_DAEMON_LEASE_METRICS_H_

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/lease_backend.h"
#include "server/core/lease_event.h"
#include "server/metrics/metrics.h"

namespace portlease {

class LeaseMetrics {
 public:
  // Registers every series in `registry`, which must outlive this.
  LeaseMetrics(MetricsRegistry* registry, const std::string& version);

  // Counts a lease event. Cheap: runs under the manager's lock.
  void OnEvent(const LeaseEvent& event);
  // Records an Acquire's outcome and latency.
  void OnAcquireDone(const absl::Status& status, absl::Duration latency);
  // Registers the gauges read from `manager` at scrape time. Call once;
  // `manager` must outlive every scrape (stop the HTTP server first).
  void WatchManager(LeaseBackend* manager);

  // For TimedLeaseStore.
  Histogram* store_put() const { return store_put_; }
  Histogram* store_delete() const { return store_delete_; }
  Counter* store_failures() const { return store_failures_; }

 private:
  MetricsRegistry* const registry_;
  std::map<LeaseEvent::Type, Counter*> events_;
  Counter* probe_failures_;
  Histogram* grant_latency_;
  Histogram* store_put_;
  Histogram* store_delete_;
  Counter* store_failures_;
  absl::Mutex mu_;
  std::map<absl::StatusCode, Counter*> acquire_failures_ ABSL_GUARDED_BY(mu_);
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_DAEMON_LEASE_METRICS_H_
