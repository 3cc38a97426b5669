#include "portlease/ctest_resources.h"

#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace portlease {

std::string ResourceBlockId(int index) { return absl::StrCat("block", index); }

std::string ResourceBlockEnvFile(absl::string_view spec_path,
                                 absl::string_view id) {
  return absl::StrCat(spec_path, ".", id, ".env");
}

std::string FormatResourceSpec(int blocks) {
  std::string out = absl::StrCat(
      "{\n  \"version\": {\"major\": 1, \"minor\": 0},\n  \"local\": [\n"
      "    {\n      \"",
      kCtestResourceType, "\": [");
  for (int i = 0; i < blocks; ++i) {
    absl::StrAppend(&out, i == 0 ? "\n" : ",\n", "        {\"id\": \"",
                    ResourceBlockId(i), "\", \"slots\": 1}");
  }
  absl::StrAppend(&out, "\n      ]\n    }\n  ]\n}\n");
  return out;
}

absl::StatusOr<std::string> AssignedResourceBlock(
    const VariableLookup& environment) {
  const std::optional<std::string> count_text =
      environment("CTEST_RESOURCE_GROUP_COUNT");
  if (!count_text.has_value()) {
    return absl::FailedPreconditionError(
        "CTEST_RESOURCE_GROUP_COUNT is not set: run the test with ctest "
        "--resource-spec-file (see lease-run --ctest-resource-spec) and give "
        "it the RESOURCE_GROUPS property \"portlease:1\"");
  }
  int count = 0;
  if (!absl::SimpleAtoi(*count_text, &count) || count < 0 || count > 1024) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CTEST_RESOURCE_GROUP_COUNT=", *count_text, ": not a count"));
  }
  const std::string type_variable = absl::AsciiStrToUpper(kCtestResourceType);
  for (int i = 0; i < count; ++i) {
    const std::string group = absl::StrCat("CTEST_RESOURCE_GROUP_", i);
    const std::optional<std::string> types = environment(group);
    if (!types.has_value()) continue;
    bool has_type = false;
    for (absl::string_view type : absl::StrSplit(*types, ',')) {
      if (type == kCtestResourceType) has_type = true;
    }
    if (!has_type) continue;
    const std::string variable = absl::StrCat(group, "_", type_variable);
    const std::optional<std::string> value = environment(variable);
    if (!value.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat(group, " names ", kCtestResourceType, " but ", variable,
                       " is not set"));
    }
    // "id:block3,slots:1" (several ";"-separated allocations when a group
    // asks for more than one; the first one counts).
    absl::string_view first = *value;
    if (const size_t semi = first.find(';'); semi != absl::string_view::npos) {
      first = first.substr(0, semi);
    }
    for (absl::string_view field : absl::StrSplit(first, ',')) {
      if (absl::ConsumePrefix(&field, "id:") && !field.empty()) {
        return std::string(field);
      }
    }
    return absl::InvalidArgumentError(
        absl::StrCat(variable, "=", *value, ": no id"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("no CTest resource group of type ", kCtestResourceType,
                   ": give the test the RESOURCE_GROUPS property \"",
                   kCtestResourceType, ":1\""));
}

}  // namespace portlease
