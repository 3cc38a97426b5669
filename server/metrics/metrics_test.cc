#include "server/metrics/metrics.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/fake_clock.h"
#include "server/metrics/metrics_http_server.h"
#include "server/metrics/timed_lease_store.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, RendersCountersGaugesAndHistogramsInExpositionFormat) {
  MetricsRegistry registry;
  Counter* grants = registry.AddCounter("x_events_total", "Events.\nMore.",
                                        {{"event", "grant"}});
  registry.AddCounter("x_events_total", "", {{"event", "re\"lease"}});
  registry.AddGauge("x_ports", "Ports.", [] {
    return Samples{{{{"state", "free"}}, 3}, {{{"state", "leased"}}, 0.5}};
  });
  Histogram* h = registry.AddHistogram("x_seconds", "Latency.", {},
                                       {0.001, 0.01, 1});
  grants->Increment(2);
  h->Observe(0.0005);
  h->Observe(0.01);  // le is inclusive
  h->Observe(5);
  EXPECT_EQ(registry.Render(),
            "# HELP x_events_total Events.\\nMore.\n"
            "# TYPE x_events_total counter\n"
            "x_events_total{event=\"grant\"} 2\n"
            "x_events_total{event=\"re\\\"lease\"} 0\n"
            "# HELP x_ports Ports.\n"
            "# TYPE x_ports gauge\n"
            "x_ports{state=\"free\"} 3\n"
            "x_ports{state=\"leased\"} 0.5\n"
            "# HELP x_seconds Latency.\n"
            "# TYPE x_seconds histogram\n"
            "x_seconds_bucket{le=\"0.001\"} 1\n"
            "x_seconds_bucket{le=\"0.01\"} 2\n"
            "x_seconds_bucket{le=\"1\"} 2\n"
            "x_seconds_bucket{le=\"+Inf\"} 3\n"
            "x_seconds_sum 5.0105\n"
            "x_seconds_count 3\n");
}

TEST(MetricsTest, FormatsValuesShortestFirst) {
  EXPECT_EQ(FormatMetricValue(0.0001), "0.0001");
  EXPECT_EQ(FormatMetricValue(2.5), "2.5");
  EXPECT_EQ(FormatMetricValue(10), "10");
  EXPECT_EQ(FormatMetricValue(1.0 / 0.0), "+Inf");
}

class SlowStore : public LeaseStore {
 public:
  explicit SlowStore(FakeClock* clock) : clock_(clock) {}
  absl::StatusOr<std::vector<LeaseRecord>> LoadAll() override {
    return std::vector<LeaseRecord>{};
  }
  absl::Status Put(const LeaseRecord&) override {
    clock_->Advance(absl::Milliseconds(3));
    return absl::OkStatus();
  }
  absl::Status Delete(const std::string&) override {
    return absl::UnavailableError("disk full");
  }
  absl::StatusOr<std::vector<Port>> LoadDrainedPorts() override {
    return std::vector<Port>{};
  }
  absl::Status SetPortDrained(Port, bool) override { return absl::OkStatus(); }
  absl::Status PutAudited(const LeaseRecord& lease,
                          const AuditEvent&) override {
    return Put(lease);
  }
  absl::Status DeleteAudited(const std::string& id,
                             const AuditEvent&) override {
    return Delete(id);
  }
  absl::Status RecordEvent(const AuditEvent&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<AuditEvent>> LoadEvents(
      const EventQuery&) override {
    return std::vector<AuditEvent>{};
  }

 private:
  FakeClock* clock_;
};

TEST(TimedLeaseStoreTest, TimesCommitsAndCountsFailures) {
  FakeClock clock;
  SlowStore slow(&clock);
  MetricsRegistry registry;
  Histogram* put = registry.AddHistogram("p", "", {}, {0.001, 0.01});
  Histogram* del = registry.AddHistogram("d", "", {}, {0.001, 0.01});
  Counter* failures = registry.AddCounter("f", "");
  TimedLeaseStore store(&slow, &clock, put, del, failures);
  EXPECT_TRUE(store.Put(LeaseRecord{}).ok());
  EXPECT_TRUE(absl::IsUnavailable(store.Delete("x")));
  Histogram::Snapshot p = put->Read();
  EXPECT_EQ(p.count, 1u);
  EXPECT_EQ(p.cumulative[0], 0u);  // 3 ms > 1 ms
  EXPECT_EQ(p.cumulative[1], 1u);
  EXPECT_EQ(del->Read().count, 1u);
  EXPECT_EQ(failures->value(), 1u);
}

}  // namespace
}  // namespace portlease

namespace portlease {
namespace {

// A stop right after the start (portleased's SIGTERM just after it said
// ready) must end the serving thread, also before it has begun to listen.
TEST(MetricsHttpServerTest, StopRightAfterStartReturns) {
  MetricsRegistry registry;
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
        MetricsHttpServer::Start("127.0.0.1", 0, &registry);
    ASSERT_TRUE(server.ok()) << server.status();
    EXPECT_GT((*server)->port(), 0);
    (*server)->Stop();
    (*server)->Stop();  // idempotent
  }
}

}  // namespace
}  // namespace portlease
