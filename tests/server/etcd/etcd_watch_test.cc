// EtcdWatch against real etcd members: order, resumption on another member
// after its member died, and the compaction signal.
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/etcd/etcd_client.h"
#include "server/etcd/etcd_watch.h"
#include "testing/poll_until.h"
#include "tests/server/etcd/etcd_test_util.h"

namespace portlease::etcd {
namespace {

using ::testing::HasSubstr;

// Collects what a watch delivers.
class Recorder {
 public:
  WatchCallback Callback() {
    return [this](absl::StatusOr<WatchBatch> batch) {
      absl::MutexLock lock(&mu_);
      if (!batch.ok()) {
        errors_.push_back(batch.status());
        return;
      }
      for (WatchEvent& e : batch->events) events_.push_back(std::move(e));
    };
  }
  std::vector<WatchEvent> events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  std::vector<absl::Status> errors() {
    absl::MutexLock lock(&mu_);
    return errors_;
  }
  bool WaitForEvents(size_t n) {
    return testing::PollUntil([&] { return events().size() >= n; }, absl::Seconds(10));
  }

 private:
  absl::Mutex mu_;
  std::vector<WatchEvent> events_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Status> errors_ ABSL_GUARDED_BY(mu_);
};

// Keys "<prefix>0".. "<prefix>n-1" put in order, revisions strictly increasing.
void ExpectPutsInOrder(const std::vector<WatchEvent>& events, const std::string& prefix,
                       size_t n) {
  ASSERT_EQ(events.size(), n);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(events[i].type, WatchEvent::kPut);
    EXPECT_EQ(events[i].kv.key, absl::StrCat(prefix, i));
    if (i > 0) {
      EXPECT_GT(events[i].kv.mod_revision, events[i - 1].kv.mod_revision);
    }
  }
}

using EtcdWatchTest = EtcdTest<1>;

TEST_F(EtcdWatchTest, DeliversPutsAndDeletesInOrderFromARevision) {
  ASSERT_TRUE(client_->Put("/w/before", "x").ok());
  absl::StatusOr<int64_t> start = client_->Put("/w/a", "1");
  ASSERT_TRUE(start.ok()) << start.status();
  ASSERT_TRUE(client_->Put("/other", "not watched").ok());
  ASSERT_TRUE(client_->Put("/w/b", "2").ok());
  Recorder recorder;
  std::unique_ptr<EtcdWatch> watch = client_->Watch("/w/", *start, recorder.Callback());
  ASSERT_TRUE(client_->DeleteRange("/w/a").ok());
  ASSERT_TRUE(client_->Txn({}, {Op::Put("/w/c", "3"), Op::Put("/w/d", "4")}, {}).ok());
  ASSERT_TRUE(recorder.WaitForEvents(5));
  std::vector<WatchEvent> events = recorder.events();
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].kv.key, "/w/a");
  EXPECT_EQ(events[0].kv.mod_revision, *start);
  EXPECT_EQ(events[0].kv.value, "1");
  EXPECT_EQ(events[1].kv.key, "/w/b");
  EXPECT_EQ(events[2].type, WatchEvent::kDelete);
  EXPECT_EQ(events[2].kv.key, "/w/a");
  EXPECT_EQ(events[3].kv.key, "/w/c");
  EXPECT_EQ(events[4].kv.key, "/w/d");
  // One transaction, one revision.
  EXPECT_EQ(events[3].kv.mod_revision, events[4].kv.mod_revision);
  EXPECT_TRUE(recorder.errors().empty());
}

TEST_F(EtcdWatchTest, FromNowSeesOnlyLaterChanges) {
  ASSERT_TRUE(client_->Put("/n/old", "x").ok());
  Recorder recorder;
  std::unique_ptr<EtcdWatch> watch = client_->Watch("/n/", 0, recorder.Callback());
  // The stream is created asynchronously: write until the watch sees one.
  ASSERT_TRUE(testing::PollUntil(
      [&] { return client_->Put("/n/new", "y").ok() && !recorder.events().empty(); },
      absl::Seconds(10)));
  for (const WatchEvent& e : recorder.events()) EXPECT_EQ(e.kv.key, "/n/new");
}

TEST_F(EtcdWatchTest, CompactedStartIsOutOfRangeOnce) {
  absl::StatusOr<int64_t> r1 = client_->Put("/x/k", "1");
  ASSERT_TRUE(r1.ok()) << r1.status();
  absl::StatusOr<int64_t> r2 = client_->Put("/x/k", "2");
  ASSERT_TRUE(r2.ok()) << r2.status();
  ASSERT_TRUE(client_->Compact(*r2).ok());
  Recorder recorder;
  std::unique_ptr<EtcdWatch> watch = client_->Watch("/x/", *r1, recorder.Callback());
  ASSERT_TRUE(testing::PollUntil([&] { return !recorder.errors().empty(); },
                                 absl::Seconds(10)));
  std::vector<absl::Status> errors = recorder.errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(errors[0].message(), HasSubstr("compacted"));
  EXPECT_TRUE(recorder.events().empty());
}

TEST_F(EtcdWatchTest, DestroyedWhileItsMemberIsDownStopsPromptly) {
  Recorder recorder;
  std::unique_ptr<EtcdWatch> watch = client_->Watch("/d/", 1, recorder.Callback());
  ASSERT_TRUE(cluster_->Kill(0).ok());
  absl::SleepFor(absl::Milliseconds(300));
  const absl::Time start = absl::Now();
  watch.reset();
  EXPECT_LT(absl::Now() - start, testing::Scaled(absl::Seconds(2)));
}

using EtcdWatchFailoverTest = EtcdTest<3>;

TEST_F(EtcdWatchFailoverTest, ResumesOnAnotherMemberWithoutLosingEvents) {
  // The watch's client prefers member 0; the writer never uses it.
  std::unique_ptr<EtcdClient> writer =
      MakeClient({cluster_->endpoint(1), cluster_->endpoint(2)}, absl::Seconds(5));
  absl::StatusOr<int64_t> start = writer->Put("/f/0", "x");
  ASSERT_TRUE(start.ok()) << start.status();
  Recorder recorder;
  std::unique_ptr<EtcdWatch> watch = client_->Watch("/f/", *start, recorder.Callback());
  for (int i = 1; i < 3; ++i) ASSERT_TRUE(writer->Put(absl::StrCat("/f/", i), "x").ok());
  ASSERT_TRUE(recorder.WaitForEvents(3));
  ASSERT_TRUE(cluster_->Kill(0).ok());
  // Writes wait for a new leader if member 0 led.
  ASSERT_TRUE(cluster_->WaitHealthy(1, absl::Seconds(10)).ok());
  for (int i = 3; i < 8; ++i) {
    absl::StatusOr<int64_t> put = writer->Put(absl::StrCat("/f/", i), "x");
    ASSERT_TRUE(put.ok()) << put.status();
  }
  ASSERT_TRUE(recorder.WaitForEvents(8));
  ExpectPutsInOrder(recorder.events(), "/f/", 8);
  EXPECT_TRUE(recorder.errors().empty());
}

TEST_F(EtcdWatchFailoverTest, ResumesAfterItsMemberStopsAnswering) {
  // A stopped member keeps the stream's connection open: only keepalive
  // pings, unanswered within the call timeout, tell.
  EtcdOptions options;
  options.endpoints = cluster_->endpoints();
  options.call_timeout = testing::Scaled(absl::Seconds(1));
  options.keepalive_time = testing::Scaled(absl::Seconds(1));
  absl::StatusOr<std::unique_ptr<EtcdClient>> client = EtcdClient::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status();
  std::unique_ptr<EtcdClient> writer =
      MakeClient({cluster_->endpoint(1), cluster_->endpoint(2)}, absl::Seconds(5));
  absl::StatusOr<int64_t> start = writer->Put("/s/0", "x");
  ASSERT_TRUE(start.ok()) << start.status();
  Recorder recorder;
  std::unique_ptr<EtcdWatch> watch = (*client)->Watch("/s/", *start, recorder.Callback());
  ASSERT_TRUE(recorder.WaitForEvents(1));
  ASSERT_TRUE(cluster_->Stop(0).ok());
  ASSERT_TRUE(cluster_->WaitHealthy(1, absl::Seconds(10)).ok());
  for (int i = 1; i < 5; ++i) {
    absl::StatusOr<int64_t> put = writer->Put(absl::StrCat("/s/", i), "x");
    ASSERT_TRUE(put.ok()) << put.status();
  }
  ASSERT_TRUE(recorder.WaitForEvents(5));
  ExpectPutsInOrder(recorder.events(), "/s/", 5);
  EXPECT_TRUE(cluster_->Cont(0).ok());
}

}  // namespace
}  // namespace portlease::etcd
