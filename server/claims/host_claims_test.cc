#include "server/claims/host_claims.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace portlease {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class HostClaimsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (child_ > 0) StopChild();
  }

  // Another server: a child process that opens the claims directory, claims
  // first..first+count-1 (for UDP too when `udp`) and waits to be killed.
  void StartChild(Port first, uint32_t count, bool udp) {
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    child_ = fork();
    ASSERT_GE(child_, 0);
    if (child_ == 0) {
      close(ready[0]);
      auto claims = HostClaims::Open(dir_);
      const bool ok = claims.ok() && (*claims)->Claim(first, count, udp).empty();
      if (write(ready[1], ok ? "y" : "n", 1) != 1) _exit(1);
      for (;;) pause();
    }
    close(ready[1]);
    char answer = 0;
    ASSERT_EQ(read(ready[0], &answer, 1), 1);
    close(ready[0]);
    ASSERT_EQ(answer, 'y');
  }
  void StopChild() {
    kill(child_, SIGKILL);
    int status = 0;
    waitpid(child_, &status, 0);
    child_ = 0;
  }

  testing::TempDir temp_;
  const std::string base_ = temp_.path();
  const std::string dir_ = base_ + "/claims";
  pid_t child_ = 0;
};

TEST_F(HostClaimsTest, CreatesAShareableDirectoryWhateverTheUmask) {
  const mode_t old = umask(077);
  auto claims = HostClaims::Open(dir_);
  umask(old);
  ASSERT_TRUE(claims.ok()) << claims.status();
  struct stat st;
  ASSERT_EQ(lstat(dir_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  for (const char* name : {"/tcp", "/udp"}) {
    ASSERT_EQ(lstat((dir_ + name).c_str(), &st), 0) << name;
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0666u) << name;
  }
  // A second server opens what the first made.
  EXPECT_TRUE(HostClaims::Open(dir_).ok());
}

TEST_F(HostClaimsTest, AnotherProcessesClaimsAreRefusedAndNamedUntilItDies) {
  auto claims = HostClaims::Open(dir_);
  ASSERT_TRUE(claims.ok()) << claims.status();
  StartChild(31001, 2, /*udp=*/false);

  EXPECT_THAT((*claims)->Claim(31000, 4, false), ElementsAre(31001, 31002));
  EXPECT_THAT((*claims)->Claim(31000, 1, false), IsEmpty());
  EXPECT_THAT((*claims)->Claim(31003, 1, false), IsEmpty());
  auto holder = (*claims)->Holder(31002);
  ASSERT_TRUE(holder.has_value());
  EXPECT_EQ(holder->pid, child_);
  EXPECT_FALSE(holder->user.empty());
  // Its own claims are not "another server's".
  EXPECT_FALSE((*claims)->Holder(31000).has_value());
  EXPECT_FALSE((*claims)->Holder(31004).has_value());

  StopChild();  // kill -9: the kernel drops its locks
  EXPECT_FALSE((*claims)->Holder(31002).has_value());
  EXPECT_THAT((*claims)->Claim(31001, 2, false), IsEmpty());
}

TEST_F(HostClaimsTest, UnclaimLetsAnotherProcessClaim) {
  auto claims = HostClaims::Open(dir_);
  ASSERT_TRUE(claims.ok());
  ASSERT_THAT((*claims)->Claim(31000, 3, true), IsEmpty());
  (*claims)->Unclaim(31000, 3);
  StartChild(31000, 3, /*udp=*/true);  // fails (answer 'n') if still held
}

TEST_F(HostClaimsTest, AUdpClaimIsAllOrNothing) {
  auto claims = HostClaims::Open(dir_);
  ASSERT_TRUE(claims.ok());
  StartChild(31000, 1, /*udp=*/true);
  // TCP-only on the same port: the TCP byte is taken.
  EXPECT_THAT((*claims)->Claim(31000, 1, false), ElementsAre(31000));
  StopChild();
  // The child now claims UDP only (by hand), and a TCP+UDP claim fails
  // without keeping its TCP half.
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  child_ = fork();
  ASSERT_GE(child_, 0);
  if (child_ == 0) {
    int fd = open((dir_ + "/udp").c_str(), O_RDWR);
    struct flock lock = {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = 31005;
    lock.l_len = 1;
    const bool ok = fd >= 0 && fcntl(fd, F_SETLK, &lock) == 0;
    if (write(ready[1], ok ? "y" : "n", 1) != 1) _exit(1);
    for (;;) pause();
  }
  close(ready[1]);
  char answer = 0;
  ASSERT_EQ(read(ready[0], &answer, 1), 1);
  close(ready[0]);
  ASSERT_EQ(answer, 'y');
  EXPECT_THAT((*claims)->Claim(31004, 2, true), ElementsAre(31005));
  StopChild();
  StartChild(31004, 1, /*udp=*/false);  // the TCP half was given back
}

TEST_F(HostClaimsTest, APrivateDirectoryIsRefusedWithTheReason) {
  ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0);
  auto claims = HostClaims::Open(dir_);
  ASSERT_TRUE(absl::IsFailedPrecondition(claims.status())) << claims.status();
  EXPECT_THAT(std::string(claims.status().message()),
              HasSubstr("is a directory (mode 0700, owner"));
  EXPECT_THAT(std::string(claims.status().message()), HasSubstr("chmod 1777"));
}

TEST_F(HostClaimsTest, ASymlinkOrAFifoIsRefused) {
  ASSERT_EQ(symlink(base_.c_str(), dir_.c_str()), 0);
  auto claims = HostClaims::Open(dir_);
  ASSERT_TRUE(absl::IsFailedPrecondition(claims.status())) << claims.status();
  EXPECT_THAT(std::string(claims.status().message()),
              HasSubstr("a symbolic link"));
  unlink(dir_.c_str());

  ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0);
  ASSERT_EQ(chmod(dir_.c_str(), 01777), 0);
  ASSERT_EQ(mkfifo((dir_ + "/tcp").c_str(), 0666), 0);
  claims = HostClaims::Open(dir_);  // must not block on the FIFO
  ASSERT_TRUE(absl::IsFailedPrecondition(claims.status())) << claims.status();
  EXPECT_THAT(std::string(claims.status().message()),
              HasSubstr("not a regular file"));
}

}  // namespace
}  // namespace portlease
