// Unit tests of the security helpers: the admin token, the rate limiter,
// peer identification and the caller's principal.
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/security/auth_context.h"
#include "grpcpp/support/string_ref.h"
#include "gtest/gtest.h"
#include "server/core/fake_clock.h"
#include "server/service/admin_auth.h"
#include "server/service/caller_identity.h"
#include "server/service/peer_credentials.h"
#include "server/service/rate_limiter.h"
#include "tests/server/test_util.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string WriteFile(const TempDir& dir, const std::string& name,
                      const std::string& text, mode_t mode) {
  const std::string path = dir.File(name);
  std::ofstream(path) << text;
  chmod(path.c_str(), mode);
  return path;
}

TEST(AdminTokenTest, LoadsAPrivateFileWithoutWhitespace) {
  TempDir dir;
  auto token = LoadAdminToken(
      WriteFile(dir, "t", "  s3cret-s3cret-s3cret\n", 0600));
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "s3cret-s3cret-s3cret");
  EXPECT_TRUE(LoadAdminToken(WriteFile(dir, "g", "s3cret-s3cret-s3cret", 0640)).ok());
}

TEST(AdminTokenTest, RefusesUnsafeOrWeakFiles) {
  TempDir dir;
  absl::Status world = LoadAdminToken(
      WriteFile(dir, "w", "s3cret-s3cret-s3cret", 0644)).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(world));
  EXPECT_THAT(world.message(), Not(HasSubstr("s3cret")));
  EXPECT_THAT(world.message(), HasSubstr("(mode 0644)"));  // octal, as chmod
  EXPECT_TRUE(absl::IsInvalidArgument(
      LoadAdminToken(WriteFile(dir, "s", "short", 0600)).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      LoadAdminToken(WriteFile(dir, "sp", "two words here ok", 0600)).status()));
  EXPECT_TRUE(absl::IsNotFound(LoadAdminToken(dir.File("none")).status()));
}

TEST(AdminTokenTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abd", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("ab", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abcd", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("", "abc"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

TEST(AdminTokenTest, BearerMetadata) {
  std::multimap<grpc::string_ref, grpc::string_ref> md;
  EXPECT_TRUE(absl::IsPermissionDenied(CheckBearerToken(md, "tok")));
  md.emplace("authorization", "Bearer tok");
  EXPECT_TRUE(CheckBearerToken(md, "tok").ok());
  EXPECT_TRUE(absl::IsPermissionDenied(CheckBearerToken(md, "")));
  std::multimap<grpc::string_ref, grpc::string_ref> wrong;
  wrong.emplace("authorization", "Bearer tok2");
  EXPECT_TRUE(absl::IsPermissionDenied(CheckBearerToken(wrong, "tok")));
}

TEST(RateLimiterTest, BurstThenSustainedRatePerCaller) {
  FakeClock clock;
  RateLimiter limiter({.per_second = 10, .burst = 3}, &clock);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Admit("uid:1").ok());
  absl::Status refused = limiter.Admit("uid:1");
  EXPECT_TRUE(absl::IsResourceExhausted(refused));
  EXPECT_THAT(refused.message(), HasSubstr("uid:1"));
  EXPECT_TRUE(limiter.Admit("uid:2").ok());  // others are not affected
  clock.Advance(absl::Milliseconds(100));    // one token back
  EXPECT_TRUE(limiter.Admit("uid:1").ok());
  EXPECT_FALSE(limiter.Admit("uid:1").ok());
  clock.Advance(absl::Hours(1));  // refills to the burst, not beyond
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Admit("uid:1").ok());
  EXPECT_FALSE(limiter.Admit("uid:1").ok());
}

TEST(RateLimiterTest, ZeroRateIsUnlimitedAndIdleCallersAreForgotten) {
  FakeClock clock;
  RateLimiter unlimited({.per_second = 0}, &clock);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(unlimited.Admit("x").ok());
  RateLimiter small({.per_second = 1, .burst = 1, .max_callers = 2}, &clock);
  EXPECT_TRUE(small.Admit("a").ok());
  EXPECT_TRUE(small.Admit("b").ok());
  clock.Advance(absl::Seconds(5));
  EXPECT_TRUE(small.Admit("c").ok());  // a and b were full again: dropped
  EXPECT_FALSE(small.Admit("c").ok());
}

TEST(IdentifyTest, MapsGrpcPeersToCallers) {
  PeerRegistry peers;
  peers.Set(12, {.pid = 42, .uid = 1000, .gid = 1000, .user = "ci"});
  PeerIdentity unix_caller = Identify(peers, "fd:12");
  ASSERT_TRUE(unix_caller.credentials.has_value());
  EXPECT_EQ(unix_caller.key, "uid:1000,pid:42");
  EXPECT_EQ(unix_caller.OwnerEntries(),
            (Metadata{{"peer_pid", "42"}, {"peer_uid", "1000"},
                      {"peer_user", "ci"}}));
  EXPECT_EQ(Identify(peers, "ipv4:10.1.2.3:5555").key, "addr:10.1.2.3");
  EXPECT_EQ(Identify(peers, "ipv6:[::1]:5555").address, "::1");
  // gRPC escapes the brackets of an IPv6 peer; peer_addr is stored plain.
  EXPECT_EQ(Identify(peers, "ipv6:%5B::1%5D:5555").address, "::1");
  EXPECT_EQ(Identify(peers, "ipv6:%5B2001:db8::7%5D:80").OwnerEntries(),
            (Metadata{{"peer_addr", "2001:db8::7"}}));
  EXPECT_EQ(Identify(peers, "fd:13").key, "fd:13");
  EXPECT_TRUE(Identify(peers, "fd:13").OwnerEntries().empty());
}

TEST(IdentifyTest, NamesEachCallerOnce) {
  PeerRegistry peers;
  peers.Set(12, {.pid = 42, .uid = 1000, .gid = 1000, .user = "ci"});
  EXPECT_EQ(Identify(peers, "fd:12").principal, "uid:1000");
  EXPECT_EQ(Identify(peers, "ipv4:10.1.2.3:5555").principal, "addr:10.1.2.3");
  EXPECT_EQ(Identify(peers, "ipv4:127.0.0.1:5555").principal, "addr:loopback");
  EXPECT_EQ(Identify(peers, "ipv6:%5B::1%5D:5555").principal, "addr:loopback");
  EXPECT_EQ(Identify(peers, "ipv6:[::ffff:10.1.2.3]:5555").principal,
            "addr:10.1.2.3");
  EXPECT_EQ(Identify(peers, "ipv6:%5B2001:db8::7%5D:80").principal,
            "addr:2001:db8::7");
  EXPECT_EQ(Identify(peers, "fd:13").principal, "peer:fd:13");
}

// No properties to iterate (PrincipalOf only looks properties up).
struct NoProperties : grpc::AuthPropertyIterator {
  NoProperties() = default;
};

// The properties of a TLS peer, as gRPC's security context holds them.
class FakeAuthContext : public grpc::AuthContext {
 public:
  using Properties = std::multimap<std::string, std::string>;
  explicit FakeAuthContext(Properties properties)
      : properties_(std::move(properties)) {}
  bool IsPeerAuthenticated() const override { return !properties_.empty(); }
  std::vector<grpc::string_ref> GetPeerIdentity() const override {
    return FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME);
  }
  std::string GetPeerIdentityPropertyName() const override {
    return GRPC_X509_CN_PROPERTY_NAME;
  }
  std::vector<grpc::string_ref> FindPropertyValues(
      const std::string& name) const override {
    std::vector<grpc::string_ref> out;
    auto [first, last] = properties_.equal_range(name);
    for (auto it = first; it != last; ++it) out.emplace_back(it->second);
    return out;
  }
  grpc::AuthPropertyIterator begin() const override { return NoProperties(); }
  grpc::AuthPropertyIterator end() const override { return NoProperties(); }
  void AddProperty(const std::string& key,
                   const grpc::string_ref& value) override {
    properties_.emplace(key, std::string(value.data(), value.size()));
  }
  bool SetPeerIdentityPropertyName(const std::string&) override {
    return false;
  }

 private:
  std::multimap<std::string, std::string> properties_;
};

TEST(PrincipalOfTest, CertificateThenTransportAndPrivilege) {
  PeerRegistry peers;
  peers.Set(12, {.pid = 42, .uid = 1000, .gid = 1000, .user = "ci"});
  peers.Set(13, {.pid = 43, .uid = 0, .gid = 0, .user = "root"});
  const std::multimap<grpc::string_ref, grpc::string_ref> none;
  const PeerIdentity tcp = Identify(peers, "ipv4:10.1.2.3:5555");

  Principal p = PrincipalOf(Identify(peers, "fd:12"), nullptr, none, "tok");
  EXPECT_EQ(p.id, "uid:1000");
  EXPECT_EQ(p.privilege, "");
  p = PrincipalOf(Identify(peers, "fd:13"), nullptr, none, "tok");
  EXPECT_EQ(p.id, "uid:0");
  EXPECT_EQ(p.privilege, "root");

  // mTLS: the certificate's CN, else its subject; never the address.
  FakeAuthContext cn(FakeAuthContext::Properties{
                     {GRPC_X509_CN_PROPERTY_NAME, "runner-a"},
                      {GRPC_X509_CN_PROPERTY_NAME, "second"},
                      {GRPC_X509_SUBJECT_PROPERTY_NAME, "CN=runner-a,O=ci"}});
  EXPECT_EQ(PrincipalOf(tcp, &cn, none, "tok").id, "x509:runner-a");
  FakeAuthContext subject(FakeAuthContext::Properties{
      {GRPC_X509_SUBJECT_PROPERTY_NAME, "O=ci,OU=b"}});
  EXPECT_EQ(PrincipalOf(tcp, &subject, none, "tok").id, "x509:O=ci,OU=b");
  FakeAuthContext anonymous(FakeAuthContext::Properties{});
  EXPECT_EQ(PrincipalOf(tcp, &anonymous, none, "tok").id, "addr:10.1.2.3");

  // The admin token: right, wrong, absent, or none configured.
  std::multimap<grpc::string_ref, grpc::string_ref> right;
  right.emplace("authorization", "Bearer tok");
  std::multimap<grpc::string_ref, grpc::string_ref> wrong;
  wrong.emplace("authorization", "Bearer tok2");
  EXPECT_EQ(PrincipalOf(tcp, nullptr, right, "tok").privilege, "admin-token");
  EXPECT_EQ(PrincipalOf(tcp, nullptr, right, "tok").id, "addr:10.1.2.3");
  EXPECT_EQ(PrincipalOf(tcp, nullptr, wrong, "tok").privilege, "");
  EXPECT_EQ(PrincipalOf(tcp, nullptr, none, "tok").privilege, "");
  EXPECT_EQ(PrincipalOf(tcp, nullptr, right, "").privilege, "");
}

}  // namespace
}  // namespace portlease
