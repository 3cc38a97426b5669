// Output formatting for the portlease CLI.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"
#include "cli/cli_internal.h"

namespace portlease {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// "LeaseState" -> "LEASE_STATE_": the prefix protobuf style puts on every
// value of an enum type.
std::string EnumValuePrefix(absl::string_view type_name) {
  std::string prefix;
  for (size_t i = 0; i < type_name.size(); ++i) {
    if (i > 0 && absl::ascii_isupper(type_name[i])) prefix += '_';
    prefix += absl::ascii_toupper(type_name[i]);
  }
  return prefix + "_";
}

void AppendMessage(const Message& message, std::string* out);

// Timestamp and Duration as protobuf's canonical JSON strings.
bool AppendWellKnown(const Message& message, std::string* out) {
  const std::string& type = message.GetDescriptor()->full_name();
  if (type == "google.protobuf.Timestamp") {
    google::protobuf::Timestamp t;
    t.ParseFromString(message.SerializeAsString());
    absl::StrAppend(out, JsonString(google::protobuf::util::TimeUtil::ToString(t)));
    return true;
  }
  if (type == "google.protobuf.Duration") {
    google::protobuf::Duration d;
    d.ParseFromString(message.SerializeAsString());
    absl::StrAppend(out, JsonString(google::protobuf::util::TimeUtil::ToString(d)));
    return true;
  }
  return false;
}

std::string DoubleJson(double value) {
  if (!std::isfinite(value)) return "null";
  return absl::StrFormat("%.17g", value);
}

// Element `index` of the repeated `field` of `message`, or the singular
// field's value when index < 0, through the Reflection getter pair given.
template <typename T>
T FieldValue(const Message& message, const FieldDescriptor* field, int index,
             T (Reflection::*single)(const Message&, const FieldDescriptor*)
                 const,
             T (Reflection::*repeated)(const Message&, const FieldDescriptor*,
                                       int) const) {
  const Reflection& r = *message.GetReflection();
  return index >= 0 ? (r.*repeated)(message, field, index)
                    : (r.*single)(message, field);
}

// One value of `field`: element `index` of a repeated field, or the
// singular field's value when index < 0.
void AppendValue(const Message& message, const FieldDescriptor& field,
                 int index, std::string* out) {
  const Reflection& r = *message.GetReflection();
  const FieldDescriptor* f = &field;
  const bool rep = index >= 0;
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      absl::StrAppend(out, FieldValue(message, f, index, &Reflection::GetInt32,
                                      &Reflection::GetRepeatedInt32));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      absl::StrAppend(out, FieldValue(message, f, index, &Reflection::GetInt64,
                                      &Reflection::GetRepeatedInt64));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      absl::StrAppend(out, FieldValue(message, f, index, &Reflection::GetUInt32,
                                      &Reflection::GetRepeatedUInt32));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      absl::StrAppend(out, FieldValue(message, f, index, &Reflection::GetUInt64,
                                      &Reflection::GetRepeatedUInt64));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      absl::StrAppend(out, DoubleJson(FieldValue(message, f, index,
                                                 &Reflection::GetDouble,
                                                 &Reflection::GetRepeatedDouble)));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      absl::StrAppend(out, DoubleJson(FieldValue(message, f, index,
                                                 &Reflection::GetFloat,
                                                 &Reflection::GetRepeatedFloat)));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      absl::StrAppend(out, (rep ? r.GetRepeatedBool(message, f, index)
                                : r.GetBool(message, f))
                               ? "true"
                               : "false");
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int number = rep ? r.GetRepeatedEnumValue(message, f, index)
                             : r.GetEnumValue(message, f);
      const google::protobuf::EnumValueDescriptor* value =
          field.enum_type()->FindValueByNumber(number);
      absl::StrAppend(out, JsonString(value != nullptr
                                          ? EnumJsonName(*value)
                                          : absl::StrCat(number)));
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      const std::string s = rep ? r.GetRepeatedString(message, f, index)
                                : r.GetString(message, f);
      absl::StrAppend(out, JsonString(field.type() == FieldDescriptor::TYPE_BYTES
                                          ? absl::Base64Escape(s)
                                          : s));
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      AppendMessage(rep ? r.GetRepeatedMessage(message, f, index)
                        : r.GetMessage(message, f),
                    out);
      break;
  }
}

// A map field as an object, its keys sorted.
void AppendMap(const Message& message, const FieldDescriptor& field,
               std::string* out) {
  const Reflection& r = *message.GetReflection();
  const FieldDescriptor& key_field = *field.message_type()->map_key();
  const FieldDescriptor& value_field = *field.message_type()->map_value();
  std::vector<std::pair<std::string, std::string>> entries;
  for (int i = 0; i < r.FieldSize(message, &field); ++i) {
    const Message& entry = r.GetRepeatedMessage(message, &field, i);
    std::string key;
    AppendValue(entry, key_field, -1, &key);
    // JSON object keys are strings: a number key is quoted.
    if (key_field.cpp_type() != FieldDescriptor::CPPTYPE_STRING) {
      key = JsonString(key);
    }
    std::string value;
    AppendValue(entry, value_field, -1, &value);
    entries.emplace_back(std::move(key), std::move(value));
  }
  std::sort(entries.begin(), entries.end());
  absl::StrAppend(out, "{",
                  absl::StrJoin(entries, ", ", absl::PairFormatter(": ")),
                  "}");
}

void AppendMessage(const Message& message, std::string* out) {
  if (AppendWellKnown(message, out)) return;
  const Reflection& r = *message.GetReflection();
  const google::protobuf::Descriptor& type = *message.GetDescriptor();
  out->push_back('{');
  for (int i = 0; i < type.field_count(); ++i) {
    const FieldDescriptor& field = *type.field(i);
    if (i > 0) out->append(", ");
    absl::StrAppend(out, JsonString(field.name()), ": ");
    if (field.is_map()) {
      AppendMap(message, field, out);
    } else if (field.is_repeated()) {
      out->push_back('[');
      for (int j = 0; j < r.FieldSize(message, &field); ++j) {
        if (j > 0) out->append(", ");
        AppendValue(message, field, j, out);
      }
      out->push_back(']');
    } else if (field.has_presence() && !r.HasField(message, &field)) {
      // An unset message (or oneof member): there is no value, not a
      // default one.
      out->append("null");
    } else {
      AppendValue(message, field, -1, out);
    }
  }
  out->push_back('}');
}

}  // namespace

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string EnumJsonName(const google::protobuf::EnumValueDescriptor& value) {
  absl::string_view name = value.name();
  absl::ConsumePrefix(&name, EnumValuePrefix(value.type()->name()));
  return absl::AsciiStrToLower(name);
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  AppendMessage(message, &json);
  return json;
}

std::string VariablesJson(const Variables& vars) {
  std::vector<std::string> members;
  for (const auto& [key, value] : vars) {
    members.push_back(absl::StrCat(JsonString(key), ": ", JsonString(value)));
  }
  return absl::StrCat("{", absl::StrJoin(members, ", "), "}");
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
