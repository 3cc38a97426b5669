// CTest resource allocation for per-test port blocks.
//
// `lease-run --ctest-resource-spec FILE --blocks N ...` leases N blocks and
// writes FILE, a CTest resource specification with N resources of type
// "portlease" (ids block0 ... block<N-1>, one slot each), plus the variables
// of block i in ResourceBlockEnvFile(FILE, "block<i>"). A test declared with
// the RESOURCE_GROUPS property "portlease:1" and run by
// `ctest --resource-spec-file FILE` then gets one block to itself: CTest
// sets CTEST_RESOURCE_GROUP_0=portlease and
// CTEST_RESOURCE_GROUP_0_PORTLEASE=id:block3,slots:1, and
// `lease-exec --from-resource-group -- CMD` maps that back to the named port
// variables of block3.
//
// Public, and installed with portlease_lease_env, which implements it: a
// consumer's own test harness run under CTest resource groups (instead of
// lease-exec) needs the resource type, the env file names and the spec
// format to find its block, and they must not drift from what lease-run
// writes.
#ifndef PORTLEASE_CLIENT_INCLUDE_PORTLEASE_CTEST_RESOURCES_H_
#define PORTLEASE_CLIENT_INCLUDE_PORTLEASE_CTEST_RESOURCES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "portlease/template.h"

namespace portlease {

// The CTest resource type of a port block.
inline constexpr char kCtestResourceType[] = "portlease";

// Where lease-run publishes the resource spec path to its command.
inline constexpr char kResourceSpecVariable[] = "PORTLEASE_RESOURCE_SPEC";

// "block<index>".
std::string ResourceBlockId(int index);

// The env file holding the variables of block `id` of the spec at
// `spec_path`: "<spec_path>.<id>.env".
std::string ResourceBlockEnvFile(absl::string_view spec_path,
                                 absl::string_view id);

// The resource spec JSON (version 1.0) with `blocks` resources of type
// kCtestResourceType, one slot each.
std::string FormatResourceSpec(int blocks);

// The id of the portlease block CTest allotted to this test, from
// CTEST_RESOURCE_GROUP_COUNT, CTEST_RESOURCE_GROUP_<i> and
// CTEST_RESOURCE_GROUP_<i>_PORTLEASE as looked up in `environment`.
//   FAILED_PRECONDITION  no resource group of type portlease (the test lacks
//                        RESOURCE_GROUPS "portlease:1", or ctest ran without
//                        --resource-spec-file)
//   INVALID_ARGUMENT     malformed CTest variables
absl::StatusOr<std::string> AssignedResourceBlock(
    const VariableLookup& environment);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_INCLUDE_PORTLEASE_CTEST_RESOURCES_H_
