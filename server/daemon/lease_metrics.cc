#include "server/daemon/lease_metrics.h"

#include "absl/strings/ascii.h"

namespace portlease {
namespace {

constexpr LeaseEvent::Type kEventTypes[] = {
    LeaseEvent::Type::kGranted,       LeaseEvent::Type::kRenewed,
    LeaseEvent::Type::kReleased,      LeaseEvent::Type::kExpired,
    LeaseEvent::Type::kHolderLost,    LeaseEvent::Type::kDraining,
    LeaseEvent::Type::kDrained,       LeaseEvent::Type::kForeignBusy,
    LeaseEvent::Type::kStoreError,    LeaseEvent::Type::kForceReleased,
    LeaseEvent::Type::kPortDrained,   LeaseEvent::Type::kPortUndrained,
    LeaseEvent::Type::kPoolChanged,   LeaseEvent::Type::kClaimLost,
    LeaseEvent::Type::kRecovering,    LeaseEvent::Type::kRecovered,
    LeaseEvent::Type::kReattached,
};

}  // namespace

LeaseMetrics::LeaseMetrics(MetricsRegistry* registry,
                           const std::string& version)
    : registry_(registry) {
  registry->AddGauge("portlease_build_info", "The running portleased.",
                     [version] { return Samples{{{{"version", version}}, 1}}; });
  for (LeaseEvent::Type type : kEventTypes) {
    events_[type] = registry->AddCounter(
        "portlease_lease_events_total",
        "Lease events: grant, renew, release, expire, reclaim (holder lost), "
        "force-release, draining, drained, foreign-busy, store-error, "
        "port-drain, port-undrain, pool-change, claim-lost, recovering, "
        "recovered, reattach.",
        {{"event", LeaseEventName(type)}});
  }
  probe_failures_ = registry->AddCounter(
      "portlease_probe_failures_total",
      "Probes that found a pool port bound by another process.");
  grant_latency_ = registry->AddHistogram(
      "portlease_grant_duration_seconds",
      "Time from an Acquire's arrival to its grant, queueing included.", {},
      Histogram::LatencyBounds());
  store_put_ = registry->AddHistogram(
      "portlease_store_commit_duration_seconds",
      "Time to commit a change to the lease store.", {{"op", "put"}},
      Histogram::LatencyBounds());
  store_delete_ = registry->AddHistogram(
      "portlease_store_commit_duration_seconds", "", {{"op", "delete"}},
      Histogram::LatencyBounds());
  store_failures_ = registry->AddCounter(
      "portlease_store_commit_failures_total",
      "Store commits that failed (nothing was changed).");
}

void LeaseMetrics::OnEvent(const LeaseEvent& event) {
  auto it = events_.find(event.type);
  if (it != events_.end()) it->second->Increment();
  if (event.type == LeaseEvent::Type::kForeignBusy) probe_failures_->Increment();
}

void LeaseMetrics::OnAcquireDone(const absl::Status& status,
                                 absl::Duration latency) {
  if (status.ok()) {
    grant_latency_->Observe(absl::ToDoubleSeconds(latency));
    return;
  }
  Counter* counter;
  {
    absl::MutexLock lock(&mu_);
    Counter*& slot = acquire_failures_[status.code()];
    if (slot == nullptr) {
      slot = registry_->AddCounter(
          "portlease_acquire_failures_total",
          "Acquires that failed, by status code.",
          {{"code", absl::AsciiStrToLower(absl::StatusCodeToString(status.code()))}});
    }
    counter = slot;
  }
  counter->Increment();
}

void LeaseMetrics::WatchManager(LeaseBackend* manager) {
  // One Stats() per gauge family and scrape: cheap (counters kept by the
  // manager), and each family is self-consistent.
  registry_->AddGauge("portlease_leases", "Leases by state.", [manager] {
    const PoolStats s = manager->Stats();
    return Samples{{{{"state", "live"}}, static_cast<double>(s.live_leases)},
                   {{{"state", "draining"}}, static_cast<double>(s.draining_leases)}};
  });
  registry_->AddGauge("portlease_ports", "Pool ports by state.", [manager] {
    const PoolStats s = manager->Stats();
    return Samples{{{{"state", "free"}}, static_cast<double>(s.free)},
                   {{{"state", "leased"}}, static_cast<double>(s.leased)},
                   {{{"state", "quarantined"}}, static_cast<double>(s.quarantined)},
                   {{{"state", "draining"}}, static_cast<double>(s.draining)},
                   {{{"state", "busy"}}, static_cast<double>(s.busy)},
                   {{{"state", "disabled"}}, static_cast<double>(s.disabled)}};
  });
  registry_->AddGauge("portlease_pool_ports", "Ports in the pool.", [manager] {
    return Samples{{{}, static_cast<double>(manager->Stats().pool_size)}};
  });
  registry_->AddGauge(
      "portlease_largest_free_block_ports",
      "The longest run of free contiguous ports.",
      [manager] { return Samples{{{}, static_cast<double>(manager->Stats().largest_free_block)}}; });
  registry_->AddGauge("portlease_waiters", "Acquires queued for ports.",
                      [manager] {
                        return Samples{{{}, static_cast<double>(manager->Stats().waiters)}};
                      });
}

}  // namespace portlease
