#include "server/portleased_log.h"

#include <unistd.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace portlease {
namespace {

// Keeps a log line one line, and k=v,k=v lists unambiguous.
std::string Escape(absl::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == ',' || c == '=' || c == ' ' || c == '\\' ||
        static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      absl::StrAppend(
          &out, "\\x",
          absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

absl::string_view EventLevel(LeaseEvent::Type type) {
  switch (type) {
    case LeaseEvent::Type::kGranted:
    case LeaseEvent::Type::kRenewed:
    case LeaseEvent::Type::kReleased:
    case LeaseEvent::Type::kDrained:
      return "INFO";
    case LeaseEvent::Type::kExpired:
    case LeaseEvent::Type::kHolderLost:
    case LeaseEvent::Type::kDraining:
    case LeaseEvent::Type::kForeignBusy:
      return "WARN";
    case LeaseEvent::Type::kStoreError:
      return "ERROR";
  }
  return "INFO";
}

std::string FormatLogLine(absl::Time now, absl::string_view level,
                          absl::string_view message) {
  return absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", now, absl::UTCTimeZone()), " ",
      level, " ", message);
}

std::string FormatLeaseEvent(const LeaseEvent& event, absl::Time now) {
  std::string message = LeaseEventName(event.type);
  if (event.lease.has_value()) {
    const LeaseRecord& lease = *event.lease;
    absl::StrAppend(&message, " lease=", lease.IdPrefix(),
                    " ports=", lease.base);
    if (lease.count > 1) absl::StrAppend(&message, "-", lease.last());
    if (!lease.owner.empty()) {
      absl::StrAppend(&message, " owner=");
      const char* separator = "";
      for (const auto& [key, value] : lease.owner) {
        absl::StrAppend(&message, separator, Escape(key), "=", Escape(value));
        separator = ",";
      }
    }
  }
  if (event.type == LeaseEvent::Type::kForeignBusy || event.port != 0) {
    absl::StrAppend(&message, " port=", event.port);
  }
  if (!event.detail.empty()) {
    absl::StrAppend(&message, " detail=\"", absl::CEscape(event.detail), "\"");
  }
  return FormatLogLine(now, EventLevel(event.type), message);
}

void LogLine(absl::string_view level, absl::string_view message) {
  const std::string line =
      absl::StrCat(FormatLogLine(absl::Now(), level, message), "\n");
  // One write(2): lines from several threads don't interleave.
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace portlease
