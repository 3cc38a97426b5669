#include "server/daemon/log.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

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
    case LeaseEvent::Type::kRenewed:
      return "DEBUG";
    case LeaseEvent::Type::kGranted:
    case LeaseEvent::Type::kReleased:
    case LeaseEvent::Type::kDrained:
      return "INFO";
    case LeaseEvent::Type::kExpired:
    case LeaseEvent::Type::kHolderLost:
    case LeaseEvent::Type::kDraining:
    case LeaseEvent::Type::kForeignBusy:
    case LeaseEvent::Type::kForceReleased:
    case LeaseEvent::Type::kPortDrained:
    case LeaseEvent::Type::kPortUndrained:
    case LeaseEvent::Type::kPoolChanged:
    case LeaseEvent::Type::kClaimLost:
    case LeaseEvent::Type::kRecovered:
    case LeaseEvent::Type::kReattached:
      return "WARN";
    case LeaseEvent::Type::kRecovering:
      return "ERROR";
    case LeaseEvent::Type::kStoreError:
      return "ERROR";
  }
  return "INFO";
}

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warning" || text == "warn") return LogLevel::kWarning;
  if (text == "error") return LogLevel::kError;
  return absl::InvalidArgumentError(absl::StrCat(
      "--log-level=", text, ": expected debug, info, warning or error"));
}

bool LevelEnabled(absl::string_view level, LogLevel min) {
  LogLevel got = LogLevel::kError;
  if (level == "DEBUG") {
    got = LogLevel::kDebug;
  } else if (level == "INFO") {
    got = LogLevel::kInfo;
  } else if (level == "WARN") {
    got = LogLevel::kWarning;
  }
  return static_cast<int>(got) >= static_cast<int>(min);
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
  // Last: who made the change ("server" for what it did on its own), and
  // the privilege of an override (a caller acting on another's lease).
  if (!event.by.empty()) absl::StrAppend(&message, " by=", Escape(event.by));
  if (!event.privilege.empty()) {
    absl::StrAppend(&message, " privilege=", Escape(event.privilege));
  }
  const absl::string_view level =
      event.privilege.empty() || EventLevel(event.type) == "ERROR"
          ? EventLevel(event.type)
          : "WARN";
  return FormatLogLine(now, level, message);
}

void LogLine(absl::string_view level, absl::string_view message) {
  const std::string line =
      absl::StrCat(FormatLogLine(absl::Now(), level, message), "\n");
  // One write(2): lines from several threads don't interleave.
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

LogWriter::LogWriter(int fd, size_t max_pending, absl::Duration linger)
    : fd_(fd),
      max_pending_(max_pending),
      linger_(linger),
      thread_([this] { Run(); }) {}

LogWriter::~LogWriter() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void LogWriter::Write(std::string line) {
  absl::MutexLock lock(&mu_);
  Entry entry;
  entry.line = std::move(line);
  Push(std::move(entry));
}

void LogWriter::WriteEvent(LeaseEvent event, absl::Time at) {
  absl::MutexLock lock(&mu_);
  Entry entry;
  entry.event = std::move(event);
  entry.at = at;
  Push(std::move(entry));
}

void LogWriter::Flush(absl::Duration patience) {
  absl::MutexLock lock(&mu_);
  const uint64_t target = queued_;
  auto written = [this, target]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return done_ >= target;
  };
  mu_.AwaitWithTimeout(absl::Condition(&written), patience);
}

void LogWriter::Push(Entry entry) {
  if (pending_.size() >= max_pending_) {
    ++dropped_;
    return;
  }
  if (dropped_ > 0) {
    Entry warning;
    warning.line = FormatLogLine(
        absl::Now(), "WARN",
        absl::StrCat("log: ", dropped_, " lines dropped (stderr is slow)"));
    pending_.push_back(std::move(warning));
    ++queued_;
    dropped_ = 0;
  }
  pending_.push_back(std::move(entry));
  ++queued_;
}

void LogWriter::Run() {
  while (true) {
    std::deque<Entry> entries;
    bool stopping = false;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || !pending_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (pending_.empty()) return;  // stopping, and all written
      entries.swap(pending_);
      stopping = stop_;
    }
    std::deque<std::string> lines;
    for (Entry& entry : entries) {
      lines.push_back(entry.event ? FormatLeaseEvent(*entry.event, entry.at)
                                  : std::move(entry.line));
    }
    const bool all_written = WriteNow(
        lines, stopping ? absl::Milliseconds(100) : absl::Seconds(1));
    {
      absl::MutexLock lock(&mu_);
      done_ += entries.size();
    }
    if (!all_written && stopping) {
      return;  // the reader is stuck: don't hold up the exit
    }
    // Lines queued faster than this thread wakes up (more than one found
    // at once): linger, so that the next ones share one wake-up and one
    // write. Write() wakes this thread only while it waits for a line, not
    // while it lingers on stop_. A line now and then is written at once.
    if (lines.size() < 2) continue;
    absl::MutexLock lock(&mu_);
    if (!stop_) mu_.AwaitWithTimeout(absl::Condition(&stop_), linger_);
  }
}

bool LogWriter::WriteNow(const std::deque<std::string>& lines,
                         absl::Duration patience) {
  // Whole lines, at most PIPE_BUF bytes per write: once poll says a pipe is
  // writable, one write of that size does not block, and lines written by
  // others to the same pipe never land inside one of ours.
  constexpr size_t kMaxWrite = 4096;
  constexpr size_t kMaxLine = kMaxWrite - 1;
  bool all_written = true;
  std::string text;
  auto flush = [&] {
    if (text.empty()) return;
    pollfd fd = {fd_, POLLOUT, 0};
    const absl::Time end = absl::Now() + patience;
    bool writable = true;
    while (poll(&fd, 1, 100) == 0) {
      if (absl::Now() >= end) {  // reader stuck: drop these lines
        writable = false;
        break;
      }
    }
    if (!writable || write(fd_, text.data(), text.size()) < 0) {
      all_written = false;
    }
    text.clear();
  };
  for (const std::string& line : lines) {
    const size_t size = std::min(line.size(), kMaxLine) + 1;
    if (text.size() + size > kMaxWrite) flush();
    text.append(line, 0, kMaxLine);
    text.push_back('\n');
  }
  flush();
  return all_written;
}

}  // namespace portlease
