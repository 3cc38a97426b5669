// Fuzzes the --render template expander. The first byte picks which of a
// few variables are defined (some empty); the rest is the template.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "portlease/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t defined = data[0];
  const absl::string_view text(reinterpret_cast<const char*>(data + 1),
                               size - 1);
  static const char* const kNames[] = {"A",          "REDIS_PORT", "EMPTY",
                                       "_x",         "PORT0",      "LONG",
                                       "WITH_DOLLAR", "B"};
  static const char* const kValues[] = {"1",      "6379", "",     "x",
                                        "20000",  "0123456789012345678901234567890123456789",
                                        "${A}$$", "b"};
  portlease::VariableLookup lookup =
      [defined](absl::string_view name) -> std::optional<std::string> {
    for (int i = 0; i < 8; ++i) {
      if ((defined >> i & 1) && name == kNames[i]) return kValues[i];
    }
    return std::nullopt;
  };
  absl::StatusOr<std::string> out =
      portlease::ExpandTemplate(text, lookup, "fuzz.in");
  if (!out.ok()) return 0;
  // Expansion is not recursive: values are copied, never re-expanded. A
  // text without '$' comes out unchanged.
  if (text.find('$') == absl::string_view::npos && *out != text) std::abort();
  return 0;
}
