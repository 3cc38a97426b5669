// Output formatting for the portlease CLI.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "src/cli/cli_internal.h"

namespace portlease {

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options)
           .ok()) {
    return "null";
  }
  return json;
}

std::string VariablesJson(const Variables& vars) {
  google::protobuf::Struct object;
  for (const auto& [key, value] : vars) {
    (*object.mutable_fields())[key].set_string_value(value);
  }
  return ToJson(object);
}

std::string FormatTimestamp(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

std::string PortsSummary(const v1::Lease& lease) {
  std::vector<std::string> parts;
  for (const v1::PortAssignment& port : lease.ports()) {
    parts.push_back(port.name().empty()
                        ? absl::StrCat(port.port())
                        : absl::StrCat(port.name(), "=", port.port()));
  }
  return absl::StrJoin(parts, ",");
}

std::string ServerClaimSummary(const v1::ServerClaim& claim) {
  std::string out = "claimed by portleased";
  if (claim.pid() > 0) absl::StrAppend(&out, " pid ", claim.pid());
  if (!claim.user().empty()) absl::StrAppend(&out, " (user ", claim.user(), ")");
  return out;
}

std::string ClaimsSummary(const v1::StatusResponse& status) {
  if (status.claims_enabled()) {
    return absl::StrCat("on (", status.claims_dir(), ")");
  }
  if (status.claims_off_reason().empty()) {
    return "unknown (the server predates host-wide claims)";
  }
  return absl::StrCat("OFF: ", status.claims_off_reason());
}

std::string OwnerSummary(const v1::Lease& lease) {
  const auto& owner = lease.owner();
  auto get = [&owner](const std::string& key) -> std::string {
    auto it = owner.find(key);
    return it == owner.end() ? "" : it->second;
  };
  std::string out = absl::StrCat(get("user").empty() ? "?" : get("user"), "@",
                                 get("host").empty() ? "?" : get("host"));
  if (!get("pid").empty()) absl::StrAppend(&out, " pid ", get("pid"));
  if (!get("GITHUB_RUN_ID").empty()) {
    absl::StrAppend(&out, " gh-run ", get("GITHUB_RUN_ID"));
  }
  if (!get("CI_JOB_ID").empty()) absl::StrAppend(&out, " ci-job ", get("CI_JOB_ID"));
  std::string command = get("command");
  if (command.size() > 60) command = command.substr(0, 57) + "...";
  if (!command.empty()) absl::StrAppend(&out, " \"", command, "\"");
  return out;
}

}  // namespace portlease
