#include "common/port/port.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace portlease {
namespace {

absl::StatusOr<PortRange> ParseRange(absl::string_view text) {
  std::vector<absl::string_view> ends = absl::StrSplit(text, '-');
  if (ends.size() > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a port range (LO-HI)"));
  }
  absl::StatusOr<Port> lo = ParsePort(ends[0]);
  if (!lo.ok()) return lo.status();
  absl::StatusOr<Port> hi = ends.size() == 2 ? ParsePort(ends[1]) : lo;
  if (!hi.ok()) return hi.status();
  if (*hi < *lo) {
    return absl::InvalidArgumentError(
        absl::StrCat("port range '", text, "' ends before it starts"));
  }
  return PortRange{*lo, *hi};
}

}  // namespace

absl::StatusOr<Port> ParsePort(absl::string_view text) {
  uint32_t value = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &value) ||
      value == 0 || value > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a port number (1-65535)"));
  }
  return static_cast<Port>(value);
}

absl::StatusOr<std::vector<PortRange>> ParsePortRanges(absl::string_view text) {
  std::vector<PortRange> ranges;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    absl::StatusOr<PortRange> range = ParseRange(part);
    if (!range.ok()) return range.status();
    ranges.push_back(*range);
  }
  if (ranges.empty()) {
    return absl::InvalidArgumentError("empty port range list; expected LO-HI[,LO-HI...]");
  }
  return ranges;
}

absl::StatusOr<std::vector<Port>> ParsePortList(absl::string_view text) {
  std::vector<Port> ports;
  if (absl::StripAsciiWhitespace(text).empty()) return ports;
  absl::StatusOr<std::vector<PortRange>> ranges = ParsePortRanges(text);
  if (!ranges.ok()) return ranges.status();
  for (const PortRange& r : *ranges) {
    for (uint32_t p = r.lo; p <= r.hi; ++p) ports.push_back(static_cast<Port>(p));
  }
  return ports;
}

std::string FormatPortRanges(const std::vector<PortRange>& ranges) {
  return absl::StrJoin(ranges, ",", [](std::string* out, const PortRange& r) {
    if (r.lo == r.hi) {
      absl::StrAppend(out, r.lo);
    } else {
      absl::StrAppend(out, r.lo, "-", r.hi);
    }
  });
}

std::string FormatPortList(std::vector<Port> ports) {
  std::sort(ports.begin(), ports.end());
  std::vector<PortRange> ranges;
  for (Port p : ports) {
    if (!ranges.empty() && uint32_t{ranges.back().hi} + 1 >= p) {
      ranges.back().hi = std::max(ranges.back().hi, p);
    } else {
      ranges.push_back({p, p});
    }
  }
  return FormatPortRanges(ranges);
}

absl::StatusOr<PortRange> ParseEphemeralRange(absl::string_view text) {
  std::vector<absl::string_view> fields =
      absl::StrSplit(text, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
  uint32_t lo = 0, hi = 0;
  if (fields.size() != 2 || !absl::SimpleAtoi(fields[0], &lo) ||
      !absl::SimpleAtoi(fields[1], &hi) || lo == 0 || hi > 65535 || hi < lo) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot parse the ephemeral port range '", absl::StripAsciiWhitespace(text),
        "' (expected 'LO HI' as in /proc/sys/net/ipv4/ip_local_port_range)"));
  }
  return PortRange{static_cast<Port>(lo), static_cast<Port>(hi)};
}

}  // namespace portlease
