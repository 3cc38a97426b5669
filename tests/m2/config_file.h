// The M2 stand-ins' configuration: a YAML subset and ${VAR} templates.
//
// ParseConfig reads the small YAML subset the ci/m2/configs/*.yaml.in
// templates use, into a flat map keyed "section.key":
//
//   # comment
//   redis:
//     url: redis://127.0.0.1:6379      ->  "redis.url"
//   log_level: info                    ->  "log_level"
//
// Supported: one level of nesting (a "section:" line followed by indented
// "key: value" lines), '#' comments (whole line, or after whitespace),
// values optionally in single or double quotes. Nothing else: no lists,
// anchors, multi-line values or deeper nesting.
//
// RenderTemplate substitutes ${VAR} and ${VAR:-default} (and $$ -> $) with the
// same syntax as lease-run's --render, so the stand-in stack can run without
// lease-run.
#ifndef PORTLEASE_TESTS_M2_CONFIG_FILE_H_
#define PORTLEASE_TESTS_M2_CONFIG_FILE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace portlease::m2 {

// A parsed config. Thread-compatible.
class Config {
 public:
  // Parses `text`. INVALID_ARGUMENT naming "<source_name>:<line>" for a line
  // that is not in the subset, a duplicate key, or a value that still holds
  // an unexpanded "${" (an unrendered template).
  static absl::StatusOr<Config> Parse(absl::string_view text,
                                      absl::string_view source_name);
  // Reads and parses `path`. NOT_FOUND when it cannot be read.
  static absl::StatusOr<Config> Load(const std::string& path);

  // NOT_FOUND when `key` is absent.
  absl::StatusOr<std::string> GetString(absl::string_view key) const;
  // A TCP port 0..65535. NOT_FOUND when absent, INVALID_ARGUMENT otherwise.
  absl::StatusOr<uint16_t> GetPort(absl::string_view key) const;

  const absl::flat_hash_map<std::string, std::string>& values() const {
    return values_;
  }

 private:
  std::string source_;
  absl::flat_hash_map<std::string, std::string> values_;
};

// Returns a variable's value, or nullopt when it is not defined.
using Lookup = std::function<std::optional<std::string>(absl::string_view)>;

// Expands ${NAME}, ${NAME:-default} (default when NAME is unset or empty) and
// $$ in `text`. INVALID_ARGUMENT naming "<source_name>:<line>" for an unknown
// variable without default, an unterminated "${" or an invalid name.
absl::StatusOr<std::string> RenderTemplate(absl::string_view text,
                                           const Lookup& lookup,
                                           absl::string_view source_name);

// A "host:port" or "scheme://host:port[/...]" address.
struct HostPort {
  std::string host;
  uint16_t port = 0;
};
// INVALID_ARGUMENT unless `address` has a host and a port 1..65535.
absl::StatusOr<HostPort> ParseHostPort(absl::string_view address);

}  // namespace portlease::m2

#endif  // PORTLEASE_TESTS_M2_CONFIG_FILE_H_
