// DB.state: the state file's format, the loss it reports, and the store
// decorator that keeps it up to date.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/forwarding_lease_store.h"
#include "server/daemon/lost_state.h"
#include "server/store/memory_lease_store.h"
#include "testing/temp_dir.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

LeaseRecord Lease(int i) {
  LeaseRecord lease;
  lease.id = std::string(31, '0') + static_cast<char>('a' + i);
  lease.base = static_cast<Port>(20000 + i);
  lease.count = 1;
  return lease;
}

TEST(StateFileTest, RoundTripsAndAbsentIsNoRecord) {
  testing::TempDir dir;
  const std::string path = StateFilePath(dir.File("leases.db"));
  EXPECT_EQ(path, dir.File("leases.db.state"));
  absl::StatusOr<std::optional<RecordedState>> none = ReadStateFile(path);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(WriteStateFile(path, {7, true}).ok());
  EXPECT_EQ(ReadAll(path), "portlease-state 1 leases=7 clean=1\n");
  absl::StatusOr<std::optional<RecordedState>> read = ReadStateFile(path);
  ASSERT_TRUE(read.ok() && read->has_value()) << read.status();
  EXPECT_EQ((*read)->leases, 7u);
  EXPECT_TRUE((*read)->clean);
}

TEST(StateFileTest, GarbageIsDataLoss) {
  testing::TempDir dir;
  const std::string path = dir.File("leases.db.state");
  std::ofstream(path) << "leases=3\n";
  absl::StatusOr<std::optional<RecordedState>> read = ReadStateFile(path);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(read.status().message(), HasSubstr(path));
}

TEST(StateFileTest, ReadsTheFirstLineOnly) {
  // What a crash between an in-place rewrite and its truncate leaves.
  testing::TempDir dir;
  const std::string path = dir.File("leases.db.state");
  std::ofstream(path) << "portlease-state 1 leases=9 clean=0\n0\n";
  absl::StatusOr<std::optional<RecordedState>> read = ReadStateFile(path);
  ASSERT_TRUE(read.ok() && read->has_value()) << read.status();
  EXPECT_EQ((*read)->leases, 9u);
  EXPECT_FALSE((*read)->clean);
}

TEST(StateFileTest, FewerLeasesThanRecordedIsALoss) {
  EXPECT_EQ(LostStateReason(std::nullopt, 0, true, "/d/l.db"), "");
  EXPECT_EQ(LostStateReason(RecordedState{3, false}, 3, false, "/d/l.db"), "");
  EXPECT_EQ(LostStateReason(RecordedState{3, false}, 5, false, "/d/l.db"), "");
  EXPECT_EQ(LostStateReason(RecordedState{3, true}, 0, true, "/d/l.db"),
            "database /d/l.db was missing or empty: it holds 0 leases, 3 "
            "were recorded at the last clean shutdown (/d/l.db.state)");
  EXPECT_THAT(LostStateReason(RecordedState{3, false}, 1, false, "/d/l.db"),
              HasSubstr("lost leases: it holds 1 lease, 3 were recorded while "
                        "it last ran"));
}

TEST(RecordingLeaseStoreTest, RecordsEachNewLeaseAndEachDeleteOnceArmed) {
  testing::TempDir dir;
  const std::string path = dir.File("leases.db.state");
  MemoryLeaseStore inner;
  ASSERT_TRUE(inner.Put(Lease(0)).ok());
  RecordingLeaseStore store(&inner, path, nullptr);
  ASSERT_TRUE(store.LoadAll().ok());
  ASSERT_TRUE(store.Put(Lease(1)).ok());
  EXPECT_EQ(ReadAll(path), "") << "nothing is written before Arm";
  store.Arm(0, absl::InfinitePast());
  EXPECT_EQ(ReadAll(path), "portlease-state 1 leases=2 clean=0\n");
  ASSERT_TRUE(store.Put(Lease(1)).ok());  // a renewal: same count
  ASSERT_TRUE(store.Put(Lease(2)).ok());
  EXPECT_EQ(ReadAll(path), "portlease-state 1 leases=3 clean=0\n");
  ASSERT_TRUE(store.Delete(Lease(0).id).ok());
  ASSERT_TRUE(store.Delete("unknown").ok());
  EXPECT_EQ(ReadAll(path), "portlease-state 1 leases=2 clean=0\n");
  ASSERT_TRUE(store.WriteClean().ok());
  EXPECT_EQ(ReadAll(path), "portlease-state 1 leases=2 clean=1\n");
}

// The database under the recording store: each Delete first notes what the
// state file says at the moment of the commit, and fails while `refuse`.
class DeleteSpy : public ForwardingLeaseStore {
 public:
  DeleteSpy(LeaseStore* inner, std::string path)
      : ForwardingLeaseStore(inner), path_(std::move(path)) {}
  absl::Status Delete(const std::string& id) override {
    seen_at_commit = ReadAll(path_);
    if (refuse) return absl::UnavailableError("disk full");
    return ForwardingLeaseStore::Delete(id);
  }
  std::string seen_at_commit;
  bool refuse = false;

 private:
  const std::string path_;
};

// A kill -9 between a delete's commit and the state file's rewrite must not
// leave a file that records more leases than the database holds (the next
// start would take it for a loss): the lower count is written first.
TEST(RecordingLeaseStoreTest, ADeleteIsRecordedBeforeItsCommitAndBackOnFailure) {
  testing::TempDir dir;
  const std::string path = dir.File("leases.db.state");
  MemoryLeaseStore memory;
  DeleteSpy inner(&memory, path);
  ASSERT_TRUE(memory.Put(Lease(0)).ok());
  ASSERT_TRUE(memory.Put(Lease(1)).ok());
  RecordingLeaseStore store(&inner, path, nullptr);
  ASSERT_TRUE(store.LoadAll().ok());
  store.Arm(0, absl::InfinitePast());
  EXPECT_EQ(ReadAll(path), "portlease-state 1 leases=2 clean=0\n");

  ASSERT_TRUE(store.Delete(Lease(0).id).ok());
  EXPECT_EQ(inner.seen_at_commit, "portlease-state 1 leases=1 clean=0\n");
  EXPECT_EQ(ReadAll(path), "portlease-state 1 leases=1 clean=0\n");

  inner.refuse = true;
  EXPECT_FALSE(store.Delete(Lease(1).id).ok());
  EXPECT_EQ(inner.seen_at_commit, "portlease-state 1 leases=0 clean=0\n");
  EXPECT_EQ(ReadAll(path), "portlease-state 1 leases=1 clean=0\n")
      << "a failed delete is recorded back";
  inner.refuse = false;
  ASSERT_TRUE(store.Delete(Lease(1).id).ok());
  EXPECT_EQ(ReadAll(path), "portlease-state 1 leases=0 clean=0\n");
}

TEST(RecordingLeaseStoreTest, NeverRecordsFewerThanTheFloorDuringTheWindow) {
  testing::TempDir dir;
  const std::string path = dir.File("leases.db.state");
  MemoryLeaseStore inner;
  RecordingLeaseStore store(&inner, path, nullptr);
  ASSERT_TRUE(store.LoadAll().ok());
  store.Arm(5, absl::Now() + absl::Hours(1));
  ASSERT_TRUE(store.Put(Lease(1)).ok());
  EXPECT_EQ(ReadAll(path), "portlease-state 1 leases=5 clean=0\n");
}

ino_t InodeOf(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// Per grant and release the file is rewritten in place, not created and
// renamed; a file deleted meanwhile is created again at the next change.
TEST(RecordingLeaseStoreTest, RewritesInPlaceAndRecreatesADeletedFile) {
  testing::TempDir dir;
  const std::string path = dir.File("leases.db.state");
  MemoryLeaseStore inner;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(inner.Put(Lease(i)).ok());
  RecordingLeaseStore store(&inner, path, nullptr);
  ASSERT_TRUE(store.LoadAll().ok());
  store.Arm(0, absl::InfinitePast());
  EXPECT_EQ(ReadAll(path), "portlease-state 1 leases=10 clean=0\n");
  const ino_t inode = InodeOf(path);
  ASSERT_NE(inode, 0u);
  ASSERT_TRUE(store.Delete(Lease(9).id).ok());  // a shorter line
  EXPECT_EQ(ReadAll(path), "portlease-state 1 leases=9 clean=0\n");
  ASSERT_TRUE(store.Put(Lease(9)).ok());  // a longer one
  EXPECT_EQ(ReadAll(path), "portlease-state 1 leases=10 clean=0\n");
  EXPECT_EQ(InodeOf(path), inode);

  ASSERT_EQ(unlink(path.c_str()), 0);
  ASSERT_TRUE(store.Delete(Lease(9).id).ok());
  EXPECT_EQ(ReadAll(path), "portlease-state 1 leases=9 clean=0\n");
  ASSERT_TRUE(store.WriteClean().ok());
  EXPECT_EQ(ReadAll(path), "portlease-state 1 leases=9 clean=1\n");
}

}  // namespace
}  // namespace portlease
