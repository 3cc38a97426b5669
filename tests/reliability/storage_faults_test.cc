// Storage faults under the real portleased: a file size limit, a full disk
// (a small tmpfs), a corrupt database. The server must refuse to grant
// (UNAVAILABLE, never a grant it did not commit), say why, recover by itself
// when the fault clears, and refuse to start on a corrupt file instead of
// recreating it.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "portlease/client.h"
#include "tests/server/daemon_process.h"
#include "tests/server/test_util.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

constexpr char kBinary[] = PORTLEASED_PATH;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

off_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

// A lease request that writes a few kilobytes to the database but only a
// short line to the log: 64 long port names.
AcquireSpec BigSpec() {
  AcquireSpec spec;
  for (int i = 0; i < 64; ++i) {
    spec.names.push_back(absl::StrCat("port-name-padding-to-32-chars-", i < 10 ? "0" : "", i));
  }
  spec.ttl = absl::Minutes(10);
  spec.owner = {{"job", "storage-faults"}};
  return spec;
}

class StorageFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override { pool_ = TestPoolRange(4096); }

  std::vector<std::string> Args(const std::string& db) const {
    return {"--listen=unix:" + dir_.File("sock/portleased.sock"), "--db=" + db,
            absl::StrCat("--pool=", pool_.lo, "-", pool_.hi), "--probe=none",
            "--cooldown=0s",
            // One process fills the store: no per-caller share stops it
            // before the disk does.
            "--max_ports_per_owner=0"};
  }

  void Start(const std::string& db) {
    daemon_.reset();
    absl::StatusOr<DaemonProcess> daemon = DaemonProcess::Start(
        kBinary, Args(db), dir_.File(absl::StrCat("stderr", starts_++)));
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    ASSERT_TRUE(daemon->ready()) << daemon->Stderr();
    daemon_.emplace(*std::move(daemon));
    ClientOptions options;
    options.connect_timeout = absl::ZeroDuration();  // see UNAVAILABLE as it is
    client_ = std::make_unique<Client>(daemon_->addresses()[0], options);
  }

  // Acquires until the server refuses with UNAVAILABLE (at most `limit`
  // tries); returns that status. Acknowledged leases go to acked_.
  absl::Status AcquireUntilRefused(int limit) {
    for (int i = 0; i < limit; ++i) {
      absl::StatusOr<v1::Lease> lease = client_->Acquire(BigSpec());
      if (!lease.ok()) return lease.status();
      acked_.push_back(*lease);
    }
    return absl::OkStatus();
  }

  // Every acknowledged lease survives kill -9 and a restart, and nothing
  // else was granted.
  void ExpectAckedLeasesSurviveRestart(const std::string& db) {
    daemon_->Stop(SIGKILL);
    Start(db);
    for (const v1::Lease& lease : acked_) {
      absl::StatusOr<v1::Lease> got = client_->Get(lease.lease_id());
      ASSERT_TRUE(got.ok()) << "acknowledged lease lost: " << got.status();
      EXPECT_EQ(got->base_port(), lease.base_port());
    }
    absl::StatusOr<std::vector<v1::Lease>> all = client_->List();
    ASSERT_TRUE(all.ok()) << all.status();
    EXPECT_EQ(all->size(), acked_.size()) << "a lease was granted unacknowledged";
  }

  // The log is written by a thread of its own: poll for the line.
  void ExpectLogged(const std::string& text) {
    EXPECT_TRUE(PollUntil(
        [&] { return daemon_->Stderr().find(text) != std::string::npos; },
        absl::Seconds(5)))
        << "not logged: " << text << "\n" << daemon_->Stderr();
  }

  TempDir dir_;
  PortRange pool_;
  int starts_ = 0;
  std::optional<DaemonProcess> daemon_;
  std::unique_ptr<Client> client_;
  std::vector<v1::Lease> acked_;
};

TEST_F(StorageFaultsTest, FileSizeLimitRefusesGrantsAndRecovers) {
  const std::string db = dir_.File("db/leases.db");
  Start(db);
  absl::StatusOr<v1::Lease> first = client_->Acquire(BigSpec());
  ASSERT_TRUE(first.ok()) << first.status();
  acked_.push_back(*first);

  // Writes past the limit fail with EFBIG (and raise SIGXFSZ, which must
  // not kill the server).
  const rlim_t limit =
      std::max({FileSize(db), FileSize(db + "-wal"), FileSize(dir_.File("stderr0"))}) +
      64 * 1024;
  struct rlimit fault = {limit, RLIM_INFINITY};
  ASSERT_EQ(prlimit(daemon_->pid(), RLIMIT_FSIZE, &fault, nullptr), 0)
      << strerror(errno);
  absl::Status refused = AcquireUntilRefused(200);
  std::printf("file size limit %lu: refused after %zu grants: %s\n",
              static_cast<unsigned long>(limit), acked_.size(),
              refused.ToString().c_str());
  ASSERT_EQ(kill(daemon_->pid(), 0), 0) << "server died: " << daemon_->Stderr();
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("store"));
  ExpectLogged("store-error");
  // Refused again: the fault is still there.
  EXPECT_EQ(client_->Acquire(BigSpec()).status().code(),
            absl::StatusCode::kUnavailable);

  struct rlimit cleared = {RLIM_INFINITY, RLIM_INFINITY};
  ASSERT_EQ(prlimit(daemon_->pid(), RLIMIT_FSIZE, &cleared, nullptr), 0);
  absl::StatusOr<v1::Lease> after = client_->Acquire(BigSpec());
  ASSERT_TRUE(after.ok()) << "no recovery: " << after.status();
  acked_.push_back(*after);
  ExpectAckedLeasesSurviveRestart(db);
}

class TmpfsTest : public StorageFaultsTest {
 protected:
  void SetUp() override {
    StorageFaultsTest::SetUp();
    mount_ = dir_.File("fs");
    ASSERT_EQ(mkdir(mount_.c_str(), 0700), 0);
    if (mount("portlease-test", mount_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
              "size=2m,mode=0700") != 0) {
      const int error = errno;
      rmdir(mount_.c_str());
      mount_.clear();
      GTEST_SKIP() << "cannot mount a tmpfs here (" << strerror(error)
                   << "): needs root / CAP_SYS_ADMIN";
    }
  }
  void TearDown() override {
    daemon_.reset();  // the server first: it holds files on the mount
    if (!mount_.empty()) {
      EXPECT_EQ(umount2(mount_.c_str(), MNT_DETACH), 0) << strerror(errno);
    }
  }

  // Fills the file system; false if it never filled up.
  bool Fill(const std::string& path) {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    const std::string chunk(4096, 'x');
    for (int i = 0; i < 4096; ++i) {
      if (write(fd, chunk.data(), chunk.size()) < 0) {
        const bool full = errno == ENOSPC;
        close(fd);
        return full;
      }
    }
    close(fd);
    return false;
  }

  std::string mount_;
};

TEST_F(TmpfsTest, FullDiskRefusesGrantsAndRecovers) {
  const std::string db = mount_ + "/leases.db";
  Start(db);
  ASSERT_TRUE(AcquireUntilRefused(1).ok());
  ASSERT_TRUE(Fill(mount_ + "/filler")) << "the tmpfs did not fill up";

  absl::Status refused = AcquireUntilRefused(200);
  std::printf("full disk: refused after %zu grants: %s\n", acked_.size(),
              refused.ToString().c_str());
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("disk is full"));
  ExpectLogged("store-error");
  // Releases can't be committed either: the lease stays, and says so.
  absl::Status release = client_->Release(acked_[0].lease_id());
  if (!release.ok()) {
    EXPECT_EQ(release.code(), absl::StatusCode::kUnavailable) << release;
    EXPECT_TRUE(client_->Get(acked_[0].lease_id()).ok());
  } else {
    acked_.erase(acked_.begin());  // fit into space SQLite had already
  }

  ASSERT_EQ(unlink((mount_ + "/filler").c_str()), 0);
  absl::StatusOr<v1::Lease> after = client_->Acquire(BigSpec());
  ASSERT_TRUE(after.ok()) << "no recovery: " << after.status();
  acked_.push_back(*after);
  ExpectAckedLeasesSurviveRestart(db);
}

TEST_F(StorageFaultsTest, CorruptDatabaseAtStartIsRefusedAndLeftAlone) {
  const std::string db = dir_.File("db/leases.db");
  Start(db);
  ASSERT_TRUE(AcquireUntilRefused(20).ok());
  ASSERT_EQ(daemon_->Stop(SIGTERM).value_or(-1), 0) << daemon_->Stderr();
  daemon_.reset();
  const std::string good = ReadAll(db);
  ASSERT_GE(good.size(), 3u * 4096);

  // Garbage over the second page (the header stays valid).
  std::string bad = good;
  for (size_t i = 4096; i < 2 * 4096; ++i) bad[i] = static_cast<char>(0xA5);
  { std::ofstream(db, std::ios::binary | std::ios::trunc) << bad; }
  absl::StatusOr<DaemonProcess> refused =
      DaemonProcess::Start(kBinary, Args(db), dir_.File("stderr-corrupt"));
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_FALSE(refused->ready());
  std::optional<int> status = refused->Wait();
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0);
  std::printf("corrupt database: %s", refused->Stderr().c_str());
  EXPECT_THAT(refused->Stderr(), HasSubstr(db));
  EXPECT_THAT(refused->Stderr(), HasSubstr("corrupt"));
  EXPECT_EQ(ReadAll(db), bad) << "the corrupt file was modified";

  // Not a database at all.
  { std::ofstream(db, std::ios::binary | std::ios::trunc) << std::string(8192, 'z'); }
  absl::StatusOr<DaemonProcess> garbage =
      DaemonProcess::Start(kBinary, Args(db), dir_.File("stderr-garbage"));
  ASSERT_TRUE(garbage.ok()) << garbage.status();
  EXPECT_FALSE(garbage->ready());
  status = garbage->Wait();
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0);
  EXPECT_THAT(garbage->Stderr(), HasSubstr(db));
  EXPECT_EQ(ReadAll(db), std::string(8192, 'z'));

  // Restored: the server starts with every lease.
  { std::ofstream(db, std::ios::binary | std::ios::trunc) << good; }
  Start(db);
  for (const v1::Lease& lease : acked_) {
    EXPECT_TRUE(client_->Get(lease.lease_id()).ok());
  }
}

}  // namespace
}  // namespace portlease
