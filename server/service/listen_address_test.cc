#include "server/service/listen_address.h"

#include "gtest/gtest.h"

namespace portlease {
namespace {

TEST(ParseListenAddressTest, Unix) {
  absl::StatusOr<ListenAddress> a = ParseListenAddress("unix:/run/x.sock");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(a->is_tcp());
  EXPECT_EQ(a->path, "/run/x.sock");
  EXPECT_EQ(a->ToString(), "unix:/run/x.sock");
  EXPECT_EQ(ParseListenAddress("unix:///run/x.sock")->path, "/run/x.sock");
  EXPECT_EQ(ParseListenAddress("unix:rel.sock")->path, "rel.sock");
}

TEST(ParseListenAddressTest, Tcp) {
  absl::StatusOr<ListenAddress> a = ParseListenAddress("127.0.0.1:0");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->is_tcp());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 0);
  a = ParseListenAddress("[::1]:7700");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "[::1]");
  EXPECT_EQ(a->port, 7700);
  EXPECT_EQ(a->ToString(), "[::1]:7700");
  EXPECT_EQ(ParseListenAddress("localhost:65535")->port, 65535);
}

TEST(ParseListenAddressTest, Invalid) {
  for (const char* bad : {"", "unix:", "noport", ":80", "host:", "host:x",
                          "host:65536", "::1:80", "host:-1"}) {
    EXPECT_EQ(ParseListenAddress(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(
      ParseListenAddress("unix:/" + std::string(200, 'a')).status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(IsLoopbackHostTest, Hosts) {
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackHost("[::1]"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("[::]"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("example.com"));
}

}  // namespace
}  // namespace portlease
