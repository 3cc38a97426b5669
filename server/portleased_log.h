// portleased's log lines, one per line on stderr:
//   2030-01-17T08:00:00.123Z INFO granted lease=1a2b3c4d ports=20000-20002
//   owner=job=42,user=ci
// A lease appears by its id prefix only: logs never carry the secret.
#ifndef PORTLEASE_SERVER_PORTLEASED_LOG_H_
#define PORTLEASE_SERVER_PORTLEASED_LOG_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/core/lease_manager.h"

namespace portlease {

// "INFO", "WARN" or "ERROR" for an event type.
absl::string_view EventLevel(LeaseEvent::Type type);

// The log line for `event` at `now`, without the newline.
std::string FormatLeaseEvent(const LeaseEvent& event, absl::Time now);

// "TIME LEVEL message", without the newline.
std::string FormatLogLine(absl::Time now, absl::string_view level,
                          absl::string_view message);

// Writes FormatLogLine(now, level, message) and a newline to stderr in one
// write. Thread-safe.
void LogLine(absl::string_view level, absl::string_view message);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_PORTLEASED_LOG_H_
