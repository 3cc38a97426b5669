#include "tests/m2/config_file.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace portlease::m2 {
namespace {

absl::Status LineError(absl::string_view source, int line,
                       absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ":", line, ": ", what));
}

// Drops a '#' comment that starts the text or follows whitespace, outside
// quotes.
absl::string_view StripComment(absl::string_view s) {
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) {
      return s.substr(0, i);
    }
  }
  return s;
}

absl::string_view Unquote(absl::string_view v) {
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') &&
      v.back() == v.front()) {
    return v.substr(1, v.size() - 2);
  }
  return v;
}

bool IsKey(absl::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

bool IsName(absl::string_view name) {
  if (name.empty() ||
      absl::ascii_isdigit(static_cast<unsigned char>(name[0]))) {
    return false;
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<Config> Config::Parse(absl::string_view text,
                                     absl::string_view source_name) {
  Config config;
  config.source_ = std::string(source_name);
  std::string section;  // Empty: top level.
  int line_no = 0;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++line_no;
    absl::string_view line = absl::StripTrailingAsciiWhitespace(
        StripComment(absl::StripSuffix(raw, "\r")));
    if (absl::StripLeadingAsciiWhitespace(line).empty()) continue;
    const bool indented = line[0] == ' ' || line[0] == '\t';
    line = absl::StripLeadingAsciiWhitespace(line);
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) {
      return LineError(source_name, line_no, "expected 'key: value'");
    }
    const absl::string_view key =
        absl::StripTrailingAsciiWhitespace(line.substr(0, colon));
    absl::string_view rest = line.substr(colon + 1);
    if (!IsKey(key)) {
      return LineError(source_name, line_no,
                       absl::StrCat("invalid key '", key, "'"));
    }
    if (!rest.empty() && rest[0] != ' ' && rest[0] != '\t') {
      return LineError(source_name, line_no, "expected a space after ':'");
    }
    const absl::string_view trimmed = absl::StripAsciiWhitespace(rest);
    if (trimmed.empty()) {
      if (indented) {
        return LineError(source_name, line_no,
                         "nested sections are not supported");
      }
      section = std::string(key);
      continue;
    }
    const absl::string_view value = Unquote(trimmed);
    if (indented && section.empty()) {
      return LineError(source_name, line_no, "indented key outside a section");
    }
    if (!indented) section.clear();
    if (absl::StrContains(value, "${")) {
      return LineError(source_name, line_no,
                       absl::StrCat("unrendered template variable in '", value,
                                    "' (render the .yaml.in template first)"));
    }
    std::string full =
        section.empty() ? std::string(key) : absl::StrCat(section, ".", key);
    if (!config.values_.emplace(full, std::string(value)).second) {
      return LineError(source_name, line_no,
                       absl::StrCat("duplicate key '", full, "'"));
    }
  }
  return config;
}

absl::StatusOr<Config> Config::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path);
}

absl::StatusOr<std::string> Config::GetString(absl::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end()) {
    return absl::NotFoundError(
        absl::StrCat(source_, ": missing key '", key, "'"));
  }
  return it->second;
}

absl::StatusOr<uint16_t> Config::GetPort(absl::string_view key) const {
  absl::StatusOr<std::string> value = GetString(key);
  if (!value.ok()) return value.status();
  uint32_t port = 0;
  if (!absl::SimpleAtoi(*value, &port) || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": '", key, "' is not a port: '", *value, "'"));
  }
  return static_cast<uint16_t>(port);
}

absl::StatusOr<std::string> RenderTemplate(absl::string_view text,
                                           const Lookup& lookup,
                                           absl::string_view source_name) {
  std::string out;
  out.reserve(text.size());
  int line = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') ++line;
    if (c != '$' || i + 1 >= text.size()) {
      out.push_back(c);
      continue;
    }
    if (text[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    if (text[i + 1] != '{') {
      out.push_back(c);
      continue;
    }
    const size_t close = text.find('}', i + 2);
    const size_t newline = text.find('\n', i + 2);
    if (close == absl::string_view::npos || newline < close) {
      return LineError(source_name, line, "unterminated '${'");
    }
    absl::string_view body = text.substr(i + 2, close - i - 2);
    absl::string_view name = body;
    std::optional<absl::string_view> fallback;
    if (size_t sep = body.find(":-"); sep != absl::string_view::npos) {
      name = body.substr(0, sep);
      fallback = body.substr(sep + 2);
    }
    if (!IsName(name)) {
      return LineError(source_name, line,
                       absl::StrCat("invalid variable name '", name, "'"));
    }
    std::optional<std::string> value = lookup(name);
    if (fallback.has_value() && (!value.has_value() || value->empty())) {
      value = std::string(*fallback);
    }
    if (!value.has_value()) {
      return LineError(source_name, line,
                       absl::StrCat("unknown variable '", name, "'"));
    }
    out += *value;
    i = close;
  }
  return out;
}

absl::StatusOr<HostPort> ParseHostPort(absl::string_view address) {
  absl::string_view rest = address;
  if (size_t scheme = rest.find("://"); scheme != absl::string_view::npos) {
    rest = rest.substr(scheme + 3);
  }
  rest = rest.substr(0, rest.find('/'));
  const size_t colon = rest.rfind(':');
  uint32_t port = 0;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(rest.substr(colon + 1), &port) || port == 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected host:port or scheme://host:port, got '", address, "'"));
  }
  return HostPort{std::string(rest.substr(0, colon)),
                  static_cast<uint16_t>(port)};
}

}  // namespace portlease::m2
