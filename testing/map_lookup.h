// MapLookup: a variable lookup backed by a map, for tests of code that reads
// variables through a lookup function (the environment in production).
//
//   ExpandTemplate("port ${REDIS_PORT}", testing::MapLookup({{"REDIS_PORT",
//                  "41000"}}), "t");
//
// The result converts to any std::function of the same signature (such as
// portlease::VariableLookup).
#ifndef PORTLEASE_TESTING_MAP_LOOKUP_H_
#define PORTLEASE_TESTING_MAP_LOOKUP_H_

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace portlease::testing {

using Lookup = std::function<std::optional<std::string>(absl::string_view)>;

// A lookup that returns the value of `vars` for a name in it, nullopt for
// any other name. An empty value is a value (the variable is set, empty).
Lookup MapLookup(std::map<std::string, std::string> vars);

}  // namespace portlease::testing

#endif  // PORTLEASE_TESTING_MAP_LOOKUP_H_
