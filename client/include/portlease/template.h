// Template expansion for config files that cannot read the environment.
//
// ExpandTemplate substitutes ${VAR} and ${VAR:-default} in a text:
//
//   auto out = ExpandTemplate("port ${REDIS_PORT}\n", lookup, "redis.conf.in");
//
// Syntax:
//   ${NAME}            the value of NAME; an error when NAME is unknown
//   ${NAME:-default}   the value of NAME, or `default` (taken literally, up to
//                      the closing '}') when NAME is unknown or empty
//   $$                 a literal '$'
//   any other '$'      itself
// NAME is [A-Za-z_][A-Za-z0-9_]*.
#ifndef PORTLEASE_CLIENT_INCLUDE_PORTLEASE_TEMPLATE_H_
#define PORTLEASE_CLIENT_INCLUDE_PORTLEASE_TEMPLATE_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace portlease {

// Returns the value of a variable, or nullopt when it is not defined.
using VariableLookup =
    std::function<std::optional<std::string>(absl::string_view name)>;

// Expands `text`. A pure function of its arguments.
// Errors (INVALID_ARGUMENT), each naming "<source_name>:<line>:":
//   an unknown variable without a default, an unterminated "${", an invalid
//   variable name.
absl::StatusOr<std::string> ExpandTemplate(absl::string_view text,
                                           const VariableLookup& lookup,
                                           absl::string_view source_name);

// True when `name` is a valid variable name: [A-Za-z_][A-Za-z0-9_]*.
bool IsValidVariableName(absl::string_view name);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_INCLUDE_PORTLEASE_TEMPLATE_H_
