// portleased's log lines, one per line on stderr:
//   2030-01-17T08:00:00.123Z INFO granted lease=1a2b3c4d ports=20000-20002
//   owner=job=42,user=ci by=uid:1000
// A lease appears by its id prefix only: logs never carry the secret.
// Every change names who made it (by=, LeaseEvent::by); a privileged
// caller acting on another caller's lease is logged at WARN with
// privilege=root or privilege=admin-token.
#ifndef PORTLEASE_SERVER_DAEMON_LOG_H_
#define PORTLEASE_SERVER_DAEMON_LOG_H_

#include <deque>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/lease_event.h"

namespace portlease {

// "DEBUG" (renew), "INFO", "WARN" or "ERROR" for an event type.
absl::string_view EventLevel(LeaseEvent::Type type);

// The least severe level logged (--log-level).
enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// "debug", "info", "warning" (or "warn"), "error". INVALID_ARGUMENT
// otherwise.
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view text);

// Whether a line of `level` ("DEBUG", "INFO", "WARN", "ERROR") is logged
// at `min`. Unknown levels are logged.
bool LevelEnabled(absl::string_view level, LogLevel min);

// The log line for `event` at `now`, without the newline.
std::string FormatLeaseEvent(const LeaseEvent& event, absl::Time now);

// "TIME LEVEL message", without the newline.
std::string FormatLogLine(absl::Time now, absl::string_view level,
                          absl::string_view message);

// Writes FormatLogLine(now, level, message) and a newline to stderr in one
// write. Thread-safe.
void LogLine(absl::string_view level, absl::string_view message);

// Writes lines to a file descriptor from its own thread, so that callers
// (the lease manager, under its lock) never block on a slow or stuck reader
// of stderr. When more than `max_pending` lines wait, new ones are dropped;
// the next line written says how many. Lines longer than a pipe's atomic
// write (4096 bytes) are cut.
//
// Lines are batched: each wake-up of the writer thread writes every line
// queued, with as few write(2) calls as whole lines allow (4096 bytes each
// at most). When it found more than one line (they come faster than it
// wakes up), it then lingers for `linger` before the next batch, so a busy
// server pays one wake-up per `linger` instead of one per line. A line
// reaches the descriptor at most `linger` (plus the write) after Write; a
// line now and then, at once.
//
// Events are formatted by the writer thread (WriteEvent), so a caller pays
// for a copy of the event, not for its formatting.
//
// Thread-safe. The destructor writes what is pending, giving up on lines the
// descriptor does not accept within a short bounded wait.
class LogWriter {
 public:
  explicit LogWriter(int fd, size_t max_pending = 10000,
                     absl::Duration linger = absl::Milliseconds(20));
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Queues `line` (without its newline).
  void Write(std::string line);
  // Queues FormatLeaseEvent(event, at), formatted on the writer thread.
  void WriteEvent(LeaseEvent event, absl::Time at);
  // Waits until the lines queued so far are written (or dropped), at most
  // `patience`: what a reader sees once told "ready" includes them.
  void Flush(absl::Duration patience);

 private:
  // A line, or an event still to be formatted.
  struct Entry {
    std::string line;
    std::optional<LeaseEvent> event;
    absl::Time at;
  };
  void Push(Entry entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Run();
  // Writes the lines, in chunks of whole lines; a chunk is dropped when
  // `fd_` stays unwritable for `patience`. False when any was dropped.
  bool WriteNow(const std::deque<std::string>& lines, absl::Duration patience);

  const int fd_;
  const size_t max_pending_;
  const absl::Duration linger_;
  absl::Mutex mu_;
  std::deque<Entry> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  // Entries queued, and entries the thread is done with (written or not).
  uint64_t queued_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t done_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_DAEMON_LOG_H_
