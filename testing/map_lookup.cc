#include "testing/map_lookup.h"

#include <utility>

namespace portlease::testing {

Lookup MapLookup(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](
             absl::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace portlease::testing
