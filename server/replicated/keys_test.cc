#include "server/replicated/keys.h"

#include "gtest/gtest.h"
#include "server/replicated/lease_codec.h"

namespace portlease::replicated {
namespace {

TEST(KeySpaceTest, PortKeysAreFixedWidthAndSortByPort) {
  KeySpace keys("/pl/");
  EXPECT_EQ(keys.PortKey(80), "/pl/ports/00080");
  EXPECT_LT(keys.PortKey(9999), keys.PortKey(10000));
  EXPECT_EQ(keys.PortEnd(65535), "/pl/ports/65536");
  EXPECT_LT(keys.PortKey(65535), keys.PortEnd(65535));
  EXPECT_EQ(keys.QuarantineKey(20000), "/pl/quarantine/20000");
}

TEST(KeySpaceTest, ParsesWhatItWrites) {
  KeySpace keys("/pl/");
  EXPECT_EQ(keys.Parse(keys.PortKey(123)).kind, KeySpace::Kind::kPort);
  EXPECT_EQ(keys.Parse(keys.PortKey(123)).port, 123);
  EXPECT_EQ(keys.Parse(keys.QuarantineKey(7)).kind, KeySpace::Kind::kQuarantine);
  EXPECT_EQ(keys.Parse(keys.LeaseKey("abc")).id, "abc");
  EXPECT_EQ(keys.Parse(keys.RequestKey("uid:1", "r")).kind, KeySpace::Kind::kRequest);
  EXPECT_EQ(keys.Parse("/other/ports/00001").kind, KeySpace::Kind::kOther);
  EXPECT_EQ(keys.Parse("/pl/ports/1").kind, KeySpace::Kind::kOther);
}

TEST(KeySpaceTest, RequestKeysEscapeSlashes) {
  KeySpace keys("/pl/");
  EXPECT_EQ(keys.RequestKey("x509:a/b", "r/1%"), "/pl/requests/x509:a%2Fb/r%2F1%25");
}

TEST(LeaseCodecTest, RoundTripsARecordAndTakesTheTokenFromTheKey) {
  LeaseRecord record;
  record.id = "0123456789abcdef0123456789abcdef";
  record.names = {"redis", "web"};
  record.base = 20000;
  record.count = 2;
  record.udp = true;
  record.owner = {{"job", "7"}};
  record.request_id = "req";
  record.caller = "uid:1000";
  record.created_at = absl::FromUnixSeconds(1000);
  record.expires_at = absl::FromUnixSeconds(1060);
  record.ttl = absl::Seconds(60);
  record.held = true;
  etcd::KeyValue kv;
  kv.key = "/pl/leases/" + record.id;
  kv.value = EncodeLease(record, 42);
  kv.create_revision = 17;
  kv.mod_revision = 19;
  absl::StatusOr<StoredLease> back = DecodeLease(kv, record.id);
  ASSERT_TRUE(back.ok()) << back.status();
  record.fencing_token = 17;
  EXPECT_EQ(back->record, record);
  EXPECT_EQ(back->etcd_lease, 42);
  EXPECT_EQ(back->mod_revision, 19);
  EXPECT_EQ(DecodeLease(kv, "another").status().code(), absl::StatusCode::kDataLoss);
  kv.value = "garbage";
  EXPECT_EQ(DecodeLease(kv, record.id).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace portlease::replicated
