#include "common/system/errno_status.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace portlease {
namespace {

TEST(ErrnoStatusTest, MapsEachErrnoToOneCode) {
  struct Case {
    int err;
    absl::StatusCode code;
  };
  const Case cases[] = {
      {ENOENT, absl::StatusCode::kNotFound},
      {EACCES, absl::StatusCode::kPermissionDenied},
      {EPERM, absl::StatusCode::kPermissionDenied},
      {EEXIST, absl::StatusCode::kAlreadyExists},
      {ENOSPC, absl::StatusCode::kResourceExhausted},
      {EMFILE, absl::StatusCode::kResourceExhausted},
      {ENFILE, absl::StatusCode::kResourceExhausted},
      {ENOMEM, absl::StatusCode::kResourceExhausted},
      {EINTR, absl::StatusCode::kUnavailable},
      {EAGAIN, absl::StatusCode::kUnavailable},
      {EINVAL, absl::StatusCode::kInvalidArgument},
      {EIO, absl::StatusCode::kInternal},
      {EISDIR, absl::StatusCode::kInternal},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ErrnoCode(c.err), c.code) << std::strerror(c.err);
    EXPECT_EQ(ErrnoStatus(c.err, "x").code(), c.code) << std::strerror(c.err);
  }
}

TEST(ErrnoStatusTest, MessageIsWhatThenTheErrnoText) {
  const absl::Status status = ErrnoStatus(ENOENT, "open /no/such");
  EXPECT_EQ(status.message(),
            std::string("open /no/such: ") + std::strerror(ENOENT));
}

}  // namespace
}  // namespace portlease
