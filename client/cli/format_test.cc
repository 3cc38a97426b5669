#include "gmock/gmock.h"
#include "google/protobuf/wrappers.pb.h"
#include "gtest/gtest.h"
#include "cli/cli_internal.h"

namespace portlease {
namespace {

TEST(FormatJsonTest, EmptyMessagesPrintEveryField) {
  EXPECT_EQ(ToJson(v1::ListResponse()),
            "{\"leases\": [], \"next_page_token\": \"\"}");
  EXPECT_EQ(ToJson(v1::StatusResponse()),
            "{\"pool_size\": 0, \"free\": 0, \"leased\": 0, "
            "\"quarantined\": 0, \"draining\": 0, \"busy\": 0, "
            "\"largest_free_block\": 0, \"live_leases\": 0, \"waiters\": 0, "
            "\"version\": \"\", \"disabled\": 0, \"claims_enabled\": false, "
            "\"claims_dir\": \"\", \"claims_off_reason\": \"\"}");
  // An unset message field is null, not an empty object.
  EXPECT_EQ(ToJson(v1::PortInfo()),
            "{\"port\": 0, \"lease\": null, \"holders\": [], "
            "\"holders_hidden\": false, \"in_pool\": false, "
            "\"pool_state\": \"\", \"claimed_by\": null, "
            "\"docker_published\": []}");
}

TEST(FormatJsonTest, LeaseFieldsEnumsTimesAndMaps) {
  v1::Lease lease;
  lease.set_lease_id_prefix("1a2b3c4d");
  v1::PortAssignment* port = lease.add_ports();
  port->set_name("redis");
  port->set_port(20000);
  lease.set_base_port(20000);
  lease.set_count(1);
  (*lease.mutable_owner())["user"] = "ci";
  (*lease.mutable_owner())["host"] = "vm \"1\"";
  lease.mutable_created_at()->set_seconds(1700000000);
  lease.mutable_expires_at()->set_seconds(1700000060);
  lease.mutable_expires_at()->set_nanos(500000000);
  lease.mutable_ttl()->set_seconds(60);
  lease.set_state(v1::LEASE_STATE_DRAINING);
  EXPECT_EQ(ToJson(lease),
            "{\"lease_id\": \"\", \"lease_id_prefix\": \"1a2b3c4d\", "
            "\"ports\": [{\"name\": \"redis\", \"port\": 20000}], "
            "\"base_port\": 20000, \"count\": 1, \"udp\": false, "
            "\"owner\": {\"host\": \"vm \\\"1\\\"\", \"user\": \"ci\"}, "
            "\"request_id\": \"\", "
            "\"created_at\": \"2023-11-14T22:13:20Z\", "
            "\"expires_at\": \"2023-11-14T22:14:20.500Z\", "
            "\"ttl\": \"60s\", \"state\": \"draining\", "
            "\"fencing_token\": 0}");
}

TEST(FormatJsonTest, EnumNamesLoseTheirTypePrefix) {
  const auto* type = v1::LeaseState_descriptor();
  EXPECT_EQ(EnumJsonName(*type->FindValueByNumber(v1::LEASE_STATE_LIVE)), "live");
  EXPECT_EQ(EnumJsonName(*type->FindValueByNumber(v1::LEASE_STATE_UNSPECIFIED)),
            "unspecified");
}

TEST(FormatJsonTest, SixtyFourBitIntegersAreNumbers) {
  google::protobuf::Int64Value value;
  value.set_value(int64_t{1} << 40);
  EXPECT_EQ(ToJson(value), "{\"value\": 1099511627776}");
}

TEST(FormatJsonTest, StringsAreEscaped) {
  EXPECT_EQ(JsonString("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\u000a\\u0001\"");
  EXPECT_EQ(VariablesJson({{"A_PORT", "1"}, {"B", "x y"}}),
            "{\"A_PORT\": \"1\", \"B\": \"x y\"}");
}

}  // namespace
}  // namespace portlease
