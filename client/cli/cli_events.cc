// portlease events: the server's audit trail.
#include <deque>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/conventions/exit_codes.h"
#include "cli_common/args.h"
#include "cli/cli_internal.h"
#include "common/wire/proto_time.h"

namespace portlease {
namespace {

int Fail(std::ostream& err, int code, absl::string_view message) {
  err << "portlease: " << message << std::endl;
  return code;
}

std::string FormatEventTime(const google::protobuf::Timestamp& t) {
  return absl::FormatTime(
      "%Y-%m-%dT%H:%M:%E3SZ",
      TimeFromProto(t),
      absl::UTCTimeZone());
}

// One line: TIME EVENT LEASE PORTS BY, then the owner of a lease event and
// what else there is to say.
std::string FormatEventLine(const v1::Event& event) {
  std::string ports = "-";
  if (event.count() == 1) {
    ports = absl::StrCat(event.base_port());
  } else if (event.count() > 1) {
    ports = absl::StrCat(event.base_port(), "-",
                         event.base_port() + event.count() - 1);
  } else if (event.port() != 0) {
    ports = absl::StrCat(event.port());
  }
  std::string rest;
  if (!event.lease_id_prefix().empty()) {
    v1::Lease lease;
    lease.mutable_owner()->insert(event.owner().begin(), event.owner().end());
    rest = OwnerSummary(lease);
  }
  if (!event.privilege().empty()) {
    absl::StrAppend(&rest, rest.empty() ? "" : " ", "privilege=",
                    event.privilege());
  }
  if (!event.detail().empty()) {
    absl::StrAppend(&rest, rest.empty() ? "" : ": ", event.detail());
  }
  return absl::StrFormat(
      "%-24s %-13s %-9s %-12s %-16s %s", FormatEventTime(event.at()),
      event.type(),
      event.lease_id_prefix().empty() ? "-" : event.lease_id_prefix(), ports,
      event.by(), rest);
}

}  // namespace

absl::StatusOr<absl::Time> ParseSince(absl::string_view text, absl::Time now) {
  absl::Time time;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, text, &time, &error)) return time;
  absl::StatusOr<absl::Duration> ago =
      ParseFlagDuration("since", std::string(text));
  if (ago.ok()) return now - *ago;
  return absl::InvalidArgumentError(absl::StrCat(
      "--since ", text,
      ": want a duration back from now (10m, 2h) or a time "
      "(2030-01-17T08:00:00Z)"));
}

int CmdEvents(const CliFlags& flags, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Connection> connection =
      Connect(false, flags.connect_timeout);
  if (!connection.ok()) {
    return Fail(err, ConnectExitCode(connection.status()),
                connection.status().message());
  }
  // Every page from --since on; with --limit, only the newest N are kept.
  // Bounded: the server keeps a bounded trail, and a page is never empty
  // unless it is the last.
  std::deque<v1::Event> events;
  uint64_t after = 0;
  for (;;) {
    absl::StatusOr<v1::EventsResponse> page =
        connection->client->Events(after, flags.since);
    if (!page.ok()) {
      if (absl::IsUnimplemented(page.status())) {
        return Fail(err, 1,
                    absl::StrCat(connection->where.Describe(), ": ",
                                 page.status().message()));
      }
      return Fail(err, kExitUnavailable,
                  absl::StrCat(connection->where.Describe(), ": ",
                               page.status().ToString()));
    }
    for (v1::Event& event : *page->mutable_events()) {
      events.push_back(std::move(event));
      if (flags.limit > 0 && events.size() > flags.limit) events.pop_front();
    }
    if (!page->more() || page->events_size() == 0 ||
        page->next_after_seq() <= after) {
      break;
    }
    after = page->next_after_seq();
  }
  if (flags.format == OutputFormat::kJson) {
    v1::EventsResponse response;
    for (v1::Event& event : events) *response.add_events() = std::move(event);
    response.set_next_after_seq(after);
    out << ToJson(response) << "\n";
    return 0;
  }
  out << absl::StrFormat("%-24s %-13s %-9s %-12s %-16s %s\n", "TIME", "EVENT",
                         "LEASE", "PORTS", "BY", "OWNER / DETAIL");
  for (const v1::Event& event : events) out << FormatEventLine(event) << "\n";
  return 0;
}

}  // namespace portlease
