#include "portlease/template.h"

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace portlease {

bool IsValidVariableName(absl::string_view name) {
  if (name.empty()) return false;
  if (!absl::ascii_isalpha(name[0]) && name[0] != '_') return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_') return false;
  }
  return true;
}

absl::StatusOr<std::string> ExpandTemplate(absl::string_view text,
                                           const VariableLookup& lookup,
                                           absl::string_view source_name) {
  std::string out;
  out.reserve(text.size());
  int line = 1;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\n') ++line;
    if (c != '$' || i + 1 >= text.size()) {
      out.push_back(c);
      ++i;
      continue;
    }
    const char next = text[i + 1];
    if (next == '$') {
      out.push_back('$');
      i += 2;
      continue;
    }
    if (next != '{') {
      out.push_back('$');
      ++i;
      continue;
    }
    const size_t close = text.find('}', i + 2);
    const size_t newline = text.find('\n', i + 2);
    if (close == absl::string_view::npos ||
        (newline != absl::string_view::npos && newline < close)) {
      return absl::InvalidArgumentError(absl::StrCat(
          source_name, ":", line, ": unterminated \"${\" (missing '}')"));
    }
    absl::string_view body = text.substr(i + 2, close - (i + 2));
    absl::string_view name = body;
    std::optional<absl::string_view> fallback;
    if (const size_t sep = body.find(":-"); sep != absl::string_view::npos) {
      name = body.substr(0, sep);
      fallback = body.substr(sep + 2);
    }
    if (!IsValidVariableName(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_name, ":", line, ": invalid variable name \"",
                       name, "\" in \"${", body, "}\""));
    }
    std::optional<std::string> value = lookup(name);
    if (fallback.has_value() && (!value.has_value() || value->empty())) {
      value = std::string(*fallback);
    }
    if (!value.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          source_name, ":", line, ": undefined variable ", name,
          " (write ${", name, ":-default} to give it a default)"));
    }
    out.append(*value);
    i = close + 1;
  }
  return out;
}

}  // namespace portlease
