// Metrics in the Prometheus text exposition format (version 0.0.4):
// counters, histograms and gauges read at scrape time, grouped in a
// registry that renders them for an HTTP scrape (metrics_http_server.h).
//
//   MetricsRegistry registry;
//   Counter* grants = registry.AddCounter(
//       "portlease_lease_events_total", "Lease events.", {{"event", "grant"}});
//   Histogram* latency = registry.AddHistogram(
//       "portlease_grant_duration_seconds", "Acquire latency.", {},
//       Histogram::LatencyBounds());
//   registry.AddGauge("portlease_waiters", "Queued Acquires.",
//                     [&] { return Samples{{{}, 3}}; });
//   grants->Increment();
//   latency->Observe(0.0012);
//   std::string text = registry.Render();
//
// Thread-safe: Counter and Histogram updates are lock-free or short
// critical sections; Add* and Render may run from any thread.
#ifndef PORTLEASE_SERVER_METRICS_METRICS_H_
#define PORTLEASE_SERVER_METRICS_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace portlease {

// Label names to values; rendered in name order.
using Labels = std::map<std::string, std::string>;
// A gauge's samples at scrape time.
using Samples = std::vector<std::pair<Labels, double>>;

class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Histogram {
 public:
  // `bounds`: strictly increasing upper bounds; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);

  void Observe(double value);

  // 100 us .. 10 s, roughly x2.5 apart: for request and commit latencies.
  static std::vector<double> LatencyBounds();

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::vector<uint64_t> counts_ ABSL_GUARDED_BY(mu_);  // per bucket, +Inf last
  double sum_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

class MetricsRegistry {
 public:
  // The series `name`{labels}. Series of one name share its help text, which
  // the first registration sets. The registry owns the metric. Names must
  // match [a-zA-Z_:][a-zA-Z0-9_:]*; a name registered as another type, or
  // the same series twice, is a programming error (crash).
  Counter* AddCounter(const std::string& name, const std::string& help,
                      const Labels& labels = {});
  Histogram* AddHistogram(const std::string& name, const std::string& help,
                          const Labels& labels, std::vector<double> bounds);
  // A gauge whose samples `read` returns at each scrape. `read` runs on the
  // scraping thread, without the registry's lock.
  void AddGauge(const std::string& name, const std::string& help,
                std::function<Samples()> read);

  // Every family in registration order: # HELP, # TYPE, then its samples.
  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    std::string name;
    std::string help;
    Type type;
    std::vector<std::pair<Labels, std::unique_ptr<Counter>>> counters;
    std::vector<std::pair<Labels, std::unique_ptr<Histogram>>> histograms;
    std::function<Samples()> gauge;
  };
  Family* FamilyFor(const std::string& name, const std::string& help,
                    Type type) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Family>> families_ ABSL_GUARDED_BY(mu_);
};

// `value` as the exposition format writes it: integers without a fraction,
// "+Inf", "-Inf", "NaN".
std::string FormatMetricValue(double value);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_METRICS_METRICS_H_
