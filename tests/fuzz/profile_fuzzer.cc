// Fuzzes the profile parser (JSON and text format) and its validation.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "portlease/profile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view content(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<portlease::v1::Profile> profile =
      portlease::ParseProfile(content, "fuzz.json");
  if (!profile.ok()) return 0;
  // A parsed profile is valid: validating it again changes nothing.
  portlease::v1::Profile again = *profile;
  if (!portlease::ValidateProfile(again, "fuzz.json").ok()) std::abort();
  if (profile->ports_size() < 1 || profile->ports_size() > 64) std::abort();
  return 0;
}
