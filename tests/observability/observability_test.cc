// portleased's metrics endpoint, scraped over HTTP on loopback and parsed as
// the Prometheus text format, and its one-line lease event logs.
#include <signal.h>
#include <sys/wait.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "portlease/v1/portlease.grpc.pb.h"
#include "portlease/version.h"
#include "tests/server/daemon_process.h"
#include "tests/server/test_util.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kBinary[] = PORTLEASED_PATH;

std::vector<std::string> BaseArgs(const TempDir& dir, const PortRange& pool) {
  return {"--listen=unix:" + dir.File("portleased.sock"), "--db=:memory:",
          absl::StrCat("--pool=", pool.lo, "-", pool.hi), "--probe=none",
          "--cooldown=0s"};
}

// The samples of an exposition, by "name{labels}" as written. Fails the
// test on a line that breaks the format.
struct Exposition {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;  // family -> type
};

Exposition Parse(const std::string& text) {
  Exposition out;
  std::map<std::string, bool> helped;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "# HELP ")) {
      helped[std::string(line.substr(0, line.find(' ')))] = true;
      continue;
    }
    if (absl::ConsumePrefix(&line, "# TYPE ")) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ');
      EXPECT_EQ(parts.size(), 2u) << line;
      EXPECT_TRUE(helped[parts[0]]) << "TYPE before HELP: " << line;
      EXPECT_THAT(parts[1], ::testing::AnyOf("counter", "gauge", "histogram"));
      out.types[parts[0]] = parts[1];
      continue;
    }
    const size_t space = line.rfind(' ');
    EXPECT_NE(space, absl::string_view::npos) << line;
    if (space == absl::string_view::npos) continue;
    const std::string series(line.substr(0, space));
    double value = 0;
    absl::string_view number = line.substr(space + 1);
    EXPECT_TRUE(number == "+Inf" || absl::SimpleAtod(number, &value)) << line;
    std::string name = series.substr(0, series.find('{'));
    // The family was declared before its samples.
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (absl::EndsWith(name, suffix) &&
          out.types.contains(name.substr(0, name.size() - strlen(suffix)))) {
        family = name.substr(0, name.size() - strlen(suffix));
      }
    }
    EXPECT_TRUE(out.types.contains(family)) << "undeclared: " << line;
    out.samples[series] = value;
  }
  return out;
}

// Checks one histogram series: buckets cumulative, +Inf equals _count.
void CheckHistogram(const Exposition& e, const std::string& name,
                    const std::string& labels) {
  std::vector<double> buckets;
  for (const auto& [series, value] : e.samples) {
    if (absl::StartsWith(series, name + "_bucket{") &&
        (labels.empty() || series.find(labels) != std::string::npos)) {
      buckets.push_back(value);
    }
  }
  ASSERT_FALSE(buckets.empty()) << name;
  const std::string suffix = labels.empty() ? "" : "{" + labels + "}";
  const double count = e.samples.at(name + "_count" + suffix);
  const std::string inf =
      name + "_bucket{" + (labels.empty() ? "" : labels + ",") + "le=\"+Inf\"}";
  EXPECT_EQ(e.samples.at(inf), count) << name;
  double max_bucket = 0;
  for (double b : buckets) max_bucket = std::max(max_bucket, b);
  EXPECT_EQ(max_bucket, count) << name;
  EXPECT_GE(e.samples.at(name + "_sum" + suffix), 0);
}

int MetricsPort(const std::string& log) {
  const std::string marker = "metrics=http://127.0.0.1:";
  const size_t at = log.find(marker);
  if (at == std::string::npos) return 0;
  int port = 0;
  absl::SimpleAtoi(
      log.substr(at + marker.size(),
                 log.find('/', at + marker.size()) - at - marker.size()),
      &port);
  return port;
}

class DaemonTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> extra) {
    std::vector<std::string> args = BaseArgs(dir_, pool_);
    args.insert(args.end(), extra.begin(), extra.end());
    absl::StatusOr<DaemonProcess> daemon =
        DaemonProcess::Start(kBinary, args, dir_.File("stderr"));
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    ASSERT_TRUE(daemon->ready()) << daemon->Stderr();
    daemon_ = std::make_unique<DaemonProcess>(*std::move(daemon));
    stub_ = v1::PortLease::NewStub(grpc::CreateChannel(
        daemon_->addresses()[0], grpc::InsecureChannelCredentials()));
  }
  v1::Lease Acquire(uint32_t count) {
    v1::AcquireRequest request;
    request.set_count(count);
    (*request.mutable_owner())["job"] = "obs-1";
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::AcquireResponse response;
    grpc::Status status = stub_->Acquire(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.lease();
  }
  void Renew(const std::string& id) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::RenewRequest request;
    request.set_lease_id(id);
    v1::RenewResponse response;
    EXPECT_TRUE(stub_->Renew(&context, request, &response).ok());
  }
  void Release(const std::string& id) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::ReleaseRequest request;
    request.set_lease_id(id);
    v1::ReleaseResponse response;
    EXPECT_TRUE(stub_->Release(&context, request, &response).ok());
  }
  // Stops the daemon and returns everything it logged.
  std::string StopAndLog() {
    std::optional<int> status = daemon_->Stop(SIGTERM);
    EXPECT_TRUE(status.has_value() && WIFEXITED(*status) &&
                WEXITSTATUS(*status) == 0);
    return daemon_->Stderr();
  }

  TempDir dir_;
  PortRange pool_ = TestPoolRange(32);
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<v1::PortLease::Stub> stub_;
};

TEST_F(DaemonTest, MetricsAreScrapedInTheExpositionFormat) {
  Start({"--metrics_listen=127.0.0.1:0"});
  const int port = MetricsPort(daemon_->Stderr());
  ASSERT_GT(port, 0) << daemon_->Stderr();
  v1::Lease a = Acquire(2);
  Renew(a.lease_id());
  Release(a.lease_id());
  v1::Lease b = Acquire(3);

  httplib::Client http("127.0.0.1", port);
  http.set_connection_timeout(5, 0);
  http.set_read_timeout(5, 0);
  httplib::Result result = http.Get("/metrics");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 200);
  EXPECT_THAT(result->get_header_value("Content-Type"),
              HasSubstr("version=0.0.4"));
  const Exposition e = Parse(result->body);
  auto at = [&e](const std::string& series) {
    auto it = e.samples.find(series);
    EXPECT_NE(it, e.samples.end()) << series;
    return it == e.samples.end() ? -1 : it->second;
  };
  EXPECT_EQ(at("portlease_lease_events_total{event=\"grant\"}"), 2);
  EXPECT_EQ(at("portlease_lease_events_total{event=\"renew\"}"), 1);
  EXPECT_EQ(at("portlease_lease_events_total{event=\"release\"}"), 1);
  EXPECT_EQ(at("portlease_lease_events_total{event=\"expire\"}"), 0);
  EXPECT_EQ(at("portlease_lease_events_total{event=\"reclaim\"}"), 0);
  EXPECT_EQ(at("portlease_leases{state=\"live\"}"), 1);
  EXPECT_EQ(at("portlease_ports{state=\"leased\"}"), 3);
  EXPECT_EQ(at("portlease_ports{state=\"free\"}"), 29);
  EXPECT_EQ(at("portlease_ports{state=\"busy\"}"), 0);
  EXPECT_EQ(at("portlease_pool_ports"), 32);
  EXPECT_EQ(at("portlease_waiters"), 0);
  EXPECT_EQ(at("portlease_probe_failures_total"), 0);
  EXPECT_EQ(e.types.at("portlease_grant_duration_seconds"), "histogram");
  EXPECT_EQ(at("portlease_grant_duration_seconds_count"), 2);
  CheckHistogram(e, "portlease_grant_duration_seconds", "");
  EXPECT_EQ(at("portlease_store_commit_duration_seconds_count{op=\"put\"}"),
            3);  // two grants and a renewal
  EXPECT_EQ(at("portlease_store_commit_duration_seconds_count{op=\"delete\"}"),
            1);
  CheckHistogram(e, "portlease_store_commit_duration_seconds", "op=\"put\"");
  EXPECT_EQ(at(absl::StrCat("portlease_build_info{version=\"", kVersion,
                            "\"}")),
            1);
  EXPECT_EQ(result->body.find(b.lease_id()), std::string::npos);
  StopAndLog();
}

TEST_F(DaemonTest, EveryLeaseEventIsOneLogLineAndRenewIsDebug) {
  Start({"--log_level=info"});
  v1::Lease a = Acquire(2);
  Renew(a.lease_id());
  Release(a.lease_id());
  const std::string log = StopAndLog();
  const std::string prefix = a.lease_id().substr(0, 8);
  EXPECT_THAT(log, HasSubstr(absl::StrCat(" INFO grant lease=", prefix,
                                          " ports=", a.base_port(), "-",
                                          a.base_port() + 1, " owner=job=obs-1,",
                                          "peer_pid=")));
  EXPECT_THAT(log, HasSubstr(absl::StrCat("peer_uid=", getuid())));
  EXPECT_THAT(log, HasSubstr(absl::StrCat(" INFO release lease=", prefix)));
  EXPECT_THAT(log, Not(HasSubstr(" renew ")));
  EXPECT_THAT(log, Not(HasSubstr(a.lease_id())));
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    EXPECT_TRUE(absl::StartsWith(line, "20")) << "not one record: " << line;
  }
}

TEST_F(DaemonTest, DebugLevelLogsRenewals) {
  Start({"--log_level=debug"});
  v1::Lease a = Acquire(1);
  Renew(a.lease_id());
  const std::string log = StopAndLog();
  EXPECT_THAT(log, HasSubstr(absl::StrCat(" DEBUG renew lease=",
                                          a.lease_id().substr(0, 8))));
}

TEST_F(DaemonTest, ErrorLevelHidesLeaseEvents) {
  Start({"--log_level=error"});
  Acquire(1);
  EXPECT_THAT(StopAndLog(), Not(HasSubstr(" grant ")));
}

TEST(MetricsFlagsTest, BadLogLevelOrMetricsAddressIsAUsageError) {
  TempDir dir;
  const PortRange pool = TestPoolRange(8);
  for (const std::string& flag :
       {std::string("--log_level=loud"), std::string("--metrics_listen=nope")}) {
    std::vector<std::string> args = BaseArgs(dir, pool);
    args.push_back(flag);
    absl::StatusOr<DaemonProcess> daemon =
        DaemonProcess::Start(kBinary, args, dir.File("stderr"));
    ASSERT_TRUE(daemon.ok());
    std::optional<int> status = daemon->Wait();
    ASSERT_TRUE(status.has_value() && WIFEXITED(*status));
    EXPECT_EQ(WEXITSTATUS(*status), 2) << flag << ": " << daemon->Stderr();
  }
}

}  // namespace
}  // namespace portlease
