// The portlease CLI's read-only commands: list, status, who, preflight.
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/conventions/exit_codes.h"
#include "common/port/port.h"
#include "portlease/profile.h"
#include "cli/cli_internal.h"
#include "cli/docker_ports.h"

namespace portlease {
namespace {

int Fail(std::ostream& err, int code, absl::string_view message) {
  err << "portlease: " << message << std::endl;
  return code;
}

// "[#####++~~.........]  42% in use (leased 30, cooling 8, ...)": # leased,
// + quarantined (cooling down), ~ draining, ! busy, x disabled, . free.
// The cells are placed by running total, so that they add up to the
// percentage shown. After `admin set-pool` shrank the pool, the counters
// also count ports outside it (still leased, cooling down, ...): those are
// left off the bar and named after it.
std::string UtilisationBar(const v1::StatusResponse& s) {
  constexpr int kWidth = 40;
  const double size = s.pool_size() > 0 ? s.pool_size() : 1;
  const uint64_t used = s.pool_size() - std::min(s.free(), s.pool_size());
  std::string bar;
  uint64_t total = 0;
  auto add = [&](uint32_t n, char c) {
    total = std::min<uint64_t>(total + n, used);
    const size_t end = std::min<size_t>(
        static_cast<size_t>(static_cast<double>(total) / size * kWidth + 0.5),
        kWidth);
    if (end > bar.size()) bar.append(end - bar.size(), c);
  };
  add(s.leased(), '#');
  add(s.quarantined(), '+');
  add(s.draining(), '~');
  add(s.busy(), '!');
  add(s.disabled(), 'x');
  bar.resize(kWidth, '.');
  const uint64_t counted = uint64_t{s.leased()} + s.quarantined() +
                           s.draining() + s.busy() + s.disabled();
  return absl::StrFormat(
      "[%s] %3.0f%% in use (# leased, + quarantined, ~ draining, ! busy, "
      "x disabled, . free)%s",
      bar, 100.0 * static_cast<double>(used) / size,
      counted > used
          ? absl::StrCat("; ", counted - used,
                         " more outside the pool (it was changed)")
          : "");
}

std::string HolderLine(const v1::PortHolder& h) {
  std::string out = absl::StrCat(h.protocol(), " ", h.family(), " ",
                                 h.local_address(), " ", h.state());
  if (h.pid() > 0) {
    // One line whatever the command line holds (newlines, quotes).
    absl::StrAppend(&out, " pid ", h.pid(), " \"", absl::CEscape(h.command()),
                    "\"");
  }
  if (!h.container().empty()) {
    absl::StrAppend(&out, " (Docker's port publishing for container ",
                    h.container(), ")");
  }
  if (!h.user().empty()) absl::StrAppend(&out, " user ", h.user());
  return out;
}

// who and preflight work without a server: they wait at most this long for
// one.
constexpr absl::Duration kOptionalConnectTimeout = absl::Seconds(1);

std::unique_ptr<Client> OptionalClient(const CliFlags& flags,
                                       std::string* where) {
  absl::StatusOr<Connection> connection =
      Connect(/*start_embedded=*/false,
              std::min(flags.connect_timeout, kOptionalConnectTimeout));
  if (!connection.ok()) {
    *where = std::string(connection.status().message());
    return nullptr;
  }
  *where = connection->where.Describe();
  return std::move(connection->client);
}

// What who and preflight know of some ports.
struct Inspection {
  // One per port asked for, in order.
  std::vector<v1::PortInfo> infos;
  // Per port: a local bind of it failed.
  std::vector<bool> bind_failed;
  // False: the server did not answer, `where` says why.
  bool server_seen = false;
  std::string where;
  // With --docker: why the docker CLI could not say, else "".
  std::string docker_error;
};

// Adds to each of `infos` the containers Docker publishes its port for,
// or says in *error why the docker CLI could not tell.
void AddDockerPublished(std::vector<v1::PortInfo>& infos, std::string* error) {
  absl::StatusOr<std::vector<PublishedPort>> published = ListPublishedPorts();
  if (!published.ok()) {
    *error = std::string(published.status().message());
    return;
  }
  for (v1::PortInfo& info : infos) {
    for (const PublishedPort& p : *published) {
      if (p.host_port != info.port()) continue;
      info.add_docker_published(absl::StrCat(p.container, " ", p.mapping));
    }
  }
}

// The ports' infos: the server's view when one answers (else local only),
// with local holders added where the server saw none.
Inspection Inspect(const CliFlags& flags, const std::vector<uint32_t>& ports) {
  Inspection result;
  std::unique_ptr<Client> client = OptionalClient(flags, &result.where);
  std::vector<v1::PortInfo>& infos = result.infos;
  infos.resize(ports.size());
  if (client != nullptr) {
    absl::StatusOr<v1::WhoResponse> who = client->Who(ports);
    if (who.ok() && who->ports_size() == static_cast<int>(ports.size())) {
      result.server_seen = true;
      for (size_t i = 0; i < ports.size(); ++i) infos[i] = who->ports(i);
    } else {
      result.where = absl::StrCat(
          result.where, " did not answer Who: ",
          who.ok() ? "wrong number of ports" : who.status().message());
    }
  }
  result.bind_failed.assign(ports.size(), false);
  for (size_t i = 0; i < ports.size(); ++i) {
    infos[i].set_port(ports[i]);
    LocalPortState local = InspectLocalPort(static_cast<uint16_t>(ports[i]));
    result.bind_failed[i] = local.bind_failed;
    if (infos[i].holders_size() == 0) {
      for (const v1::PortHolder& h : local.holders) *infos[i].add_holders() = h;
      infos[i].set_holders_hidden(infos[i].holders_hidden() ||
                                  local.holders_hidden);
    }
    // The server has not probed it yet, but would not grant it now: a port
    // bound outside portlease is busy, not free.
    if (infos[i].pool_state() == "free" && !infos[i].has_lease() &&
        (infos[i].holders_size() > 0 || local.bind_failed)) {
      infos[i].set_pool_state("busy");
    }
  }
  if (flags.docker) AddDockerPublished(infos, &result.docker_error);
  return result;
}


}  // namespace

absl::StatusOr<std::vector<uint32_t>> ParsePortNumbers(
    const std::vector<std::string>& items) {
  std::vector<uint32_t> ports;
  for (const std::string& item : items) {
    absl::StatusOr<Port> port = ParsePort(item);
    if (!port.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", item, "\" is not a port number (1-65535)"));
    }
    ports.push_back(*port);
  }
  return ports;
}

int CmdList(const CliFlags& flags, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Connection> connection = Connect(false, flags.connect_timeout);
  if (!connection.ok()) {
    return Fail(err, ConnectExitCode(connection.status()),
                connection.status().message());
  }
  absl::StatusOr<std::vector<v1::Lease>> leases =
      connection->client->List(flags.owner_filter);
  if (!leases.ok()) {
    return Fail(err, kExitUnavailable,
                absl::StrCat(connection->where.Describe(), ": ",
                             leases.status().ToString()));
  }
  if (flags.format == OutputFormat::kJson) {
    // Every page's leases in one document, as {"leases": [...]}: the page
    // token is the client's business, not the output's.
    std::vector<std::string> items;
    for (const v1::Lease& lease : *leases) items.push_back(ToJson(lease));
    out << "{\"leases\": [" << absl::StrJoin(items, ", ") << "]}\n";
    return 0;
  }
  out << absl::StrFormat("%-9s %-9s %-12s %-21s %s\n", "LEASE", "STATE",
                         "PORTS", "EXPIRES", "OWNER / NAMES");
  for (const v1::Lease& lease : *leases) {
    const std::string range =
        lease.count() <= 1
            ? absl::StrCat(lease.base_port())
            : absl::StrCat(lease.base_port(), "-",
                           lease.base_port() + lease.count() - 1);
    out << absl::StrFormat(
        "%-9s %-9s %-12s %-21s %s %s\n", lease.lease_id_prefix(),
        lease.state() == v1::LEASE_STATE_DRAINING ? "draining" : "live", range,
        FormatTimestamp(lease.expires_at()), OwnerSummary(lease),
        PortsSummary(lease));
  }
  return 0;
}

int CmdStatus(const CliFlags& flags, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Connection> connection = Connect(false, flags.connect_timeout);
  if (!connection.ok()) {
    return Fail(err, ConnectExitCode(connection.status()),
                connection.status().message());
  }
  absl::StatusOr<v1::StatusResponse> s = connection->client->Status();
  if (!s.ok()) {
    return Fail(err, kExitUnavailable,
                absl::StrCat(connection->where.Describe(), ": ",
                             s.status().ToString()));
  }
  if (flags.format == OutputFormat::kJson) {
    out << ToJson(*s) << "\n";
    return 0;
  }
  out << "server:             " << connection->where.Describe() << "\n"
      << "version:            " << s->version() << "\n"
      << "pool size:          " << s->pool_size() << "\n"
      << "free:               " << s->free() << "\n"
      << "leased:             " << s->leased() << "\n"
      << "quarantined:        " << s->quarantined() << "\n"
      << "draining:           " << s->draining() << "\n"
      << "busy:               " << s->busy() << "\n"
      << "largest free block: " << s->largest_free_block() << "\n"
      << "live leases:        " << s->live_leases() << "\n"
      << "waiters:            " << s->waiters() << "\n";
  out << "host-wide claims:   " << ClaimsSummary(*s) << "\n";
  if (s->disabled() > 0) {
    out << "disabled:           " << s->disabled() << "\n";
  }
  // A summary for humans: how full the pool is, who holds it, and what
  // has been held longest. Leases are best effort: Status already answered.
  absl::StatusOr<std::vector<v1::Lease>> leases =
      connection->client->List(flags.owner_filter);
  out << "\n" << UtilisationBar(*s) << "\n";
  if (leases.ok() && !leases->empty()) {
    std::map<std::string, std::pair<int, int>> by_owner;  // leases, ports
    for (const v1::Lease& lease : *leases) {
      auto& [count, ports] = by_owner[OwnerSummary(lease)];
      ++count;
      ports += static_cast<int>(lease.count());
    }
    std::vector<std::pair<std::string, std::pair<int, int>>> owners(
        by_owner.begin(), by_owner.end());
    std::sort(owners.begin(), owners.end(), [](const auto& a, const auto& b) {
      return a.second.second > b.second.second;
    });
    out << "\ntop owners (ports, leases):\n";
    for (size_t i = 0; i < owners.size() && i < 5; ++i) {
      out << absl::StrFormat("  %5d %4d  %s\n", owners[i].second.second,
                             owners[i].second.first, owners[i].first);
    }
    std::vector<const v1::Lease*> oldest;
    for (const v1::Lease& lease : *leases) oldest.push_back(&lease);
    std::sort(oldest.begin(), oldest.end(), [](const auto* a, const auto* b) {
      return a->created_at().seconds() < b->created_at().seconds();
    });
    out << "\noldest leases:\n";
    for (size_t i = 0; i < oldest.size() && i < 5; ++i) {
      const v1::Lease& lease = *oldest[i];
      out << absl::StrFormat("  %-9s since %-21s %s\n",
                             lease.lease_id_prefix(),
                             FormatTimestamp(lease.created_at()),
                             OwnerSummary(lease));
    }
  }
  return 0;
}

int CmdWho(const CliFlags& flags, std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::vector<uint32_t>> ports =
      ParsePortNumbers(flags.positional);
  if (!ports.ok()) return Fail(err, kExitUsage, ports.status().message());
  if (ports->empty()) return Fail(err, kExitUsage, "usage: portlease who PORT...");
  const Inspection seen = Inspect(flags, *ports);
  const std::vector<v1::PortInfo>& infos = seen.infos;
  if (flags.format == OutputFormat::kJson) {
    v1::WhoResponse response;
    for (const v1::PortInfo& info : infos) *response.add_ports() = info;
    out << ToJson(response) << "\n";
    return 0;
  }
  if (!seen.server_seen) out << "local checks only: " << seen.where << "\n";
  if (!seen.docker_error.empty()) {
    out << "no container names: " << seen.docker_error << "\n";
  }
  for (size_t i = 0; i < infos.size(); ++i) {
    const v1::PortInfo& info = infos[i];
    out << "port " << info.port();
    if (seen.server_seen) out << ": " << info.pool_state();
    if (info.has_lease()) {
      out << ", lease " << info.lease().lease_id_prefix() << " ("
          << PortsSummary(info.lease()) << ") held by "
          << OwnerSummary(info.lease());
    }
    if (info.has_claimed_by()) {
      out << ", " << ServerClaimSummary(info.claimed_by());
    }
    if (info.holders_size() == 0 && !seen.bind_failed[i]) {
      out << ", no local sockets";
    }
    out << "\n";
    for (const v1::PortHolder& h : info.holders()) {
      out << "  " << HolderLine(h) << "\n";
    }
    for (const std::string& published : info.docker_published()) {
      out << "  published by Docker for container " << published << "\n";
    }
    if (info.holders_hidden()) {
      out << "  (some holders are hidden: run as root to see them)\n";
    }
  }
  return 0;
}

namespace {

// The ports preflight checks: --ports and the arguments, or the profile's
// default ports. Sets `udp` when the profile asks for UDP too.
// INVALID_ARGUMENT with the usage line's message otherwise.
absl::StatusOr<std::vector<uint32_t>> PreflightPorts(const CliFlags& flags,
                                                     bool& udp) {
  if (!flags.profile.empty() && !flags.ports.empty()) {
    return absl::InvalidArgumentError("give --ports or --profile, not both");
  }
  std::vector<uint32_t> ports;
  if (!flags.profile.empty()) {
    absl::StatusOr<v1::Profile> profile = LoadProfile(flags.profile);
    if (!profile.ok()) return profile.status();
    udp = udp || profile->udp();
    for (const v1::Profile::Port& port : profile->ports()) {
      if (port.default_port() != 0) ports.push_back(port.default_port());
    }
    if (ports.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(flags.profile, ": no port has a defaultPort"));
    }
  } else {
    std::vector<std::string> items =
        absl::StrSplit(flags.ports, ',', absl::SkipEmpty());
    items.insert(items.end(), flags.positional.begin(), flags.positional.end());
    absl::StatusOr<std::vector<uint32_t>> parsed = ParsePortNumbers(items);
    if (!parsed.ok()) return parsed.status();
    ports = *parsed;
  }
  if (ports.empty()) {
    return absl::InvalidArgumentError(
        "usage: portlease preflight --ports PORT,... | --profile FILE");
  }
  return ports;
}

// Prints one port's preflight lines ("port N: free", or "BUSY" with who
// holds it and a suggestion). Returns whether it is busy.
bool PrintPreflightPort(const v1::PortInfo& info, bool bind_failed, bool udp,
                        std::ostream& out) {
  const bool leased = info.has_lease();
  bool listening = bind_failed;
  for (const v1::PortHolder& h : info.holders()) {
    if (h.protocol() == "udp" ? udp : h.state() == "LISTEN") {
      listening = true;
    }
  }
  // "NAME 0.0.0.0:6379->6379/tcp": the first container publishing the port
  // in a protocol that conflicts.
  std::string container;
  for (const std::string& published : info.docker_published()) {
    if (absl::EndsWith(published, "/udp") && !udp) continue;
    container = published;
    break;
  }
  if (!leased && !listening && container.empty()) {
    out << "port " << info.port() << ": free\n";
    return false;
  }
  out << "port " << info.port() << ": BUSY";
  if (leased) {
    out << ", leased to " << OwnerSummary(info.lease()) << " (lease "
        << info.lease().lease_id_prefix() << ")";
  }
  for (const v1::PortHolder& h : info.holders()) {
    out << ", bound by " << HolderLine(h);
    break;
  }
  if (listening && info.holders_size() == 0) {
    out << ", bound by a process this user cannot see";
  }
  if (!container.empty()) {
    out << ", published by Docker for container " << container;
  }
  out << "\n";
  if (!container.empty()) {
    const std::string name = container.substr(0, container.find(' '));
    out << "  suggestion: stop the container (docker stop " << name
        << "), or publish it on leased ports: run the stack under lease-run\n";
  } else if (leased) {
    out << "  suggestion: port " << info.port()
        << " is leased from portleased; run your stack under lease-run "
           "instead of fixed ports, or wait for lease "
        << info.lease().lease_id_prefix() << " to end\n";
  } else if (!info.holders().empty() && info.holders(0).pid() > 0) {
    out << "  suggestion: stop pid " << info.holders(0).pid() << " (\""
        << info.holders(0).command()
        << "\"), or run under lease-run to get leased ports\n";
  } else {
    out << "  suggestion: find the holder with `sudo portlease who "
        << info.port() << "`, or run under lease-run to get leased ports\n";
  }
  return true;
}

}  // namespace

int CmdPreflight(const CliFlags& flags, std::ostream& out, std::ostream& err) {
  // A UDP socket on a port conflicts only with a stack that uses UDP.
  bool udp = flags.udp;
  absl::StatusOr<std::vector<uint32_t>> ports = PreflightPorts(flags, udp);
  if (!ports.ok()) return Fail(err, kExitUsage, ports.status().message());
  const Inspection seen = Inspect(flags, *ports);
  if (!seen.server_seen) {
    out << "local checks only: " << seen.where << "\n";
  }
  if (!seen.docker_error.empty()) {
    out << "no container names: " << seen.docker_error << "\n";
  }
  int busy = 0;
  for (size_t i = 0; i < seen.infos.size(); ++i) {
    if (PrintPreflightPort(seen.infos[i], seen.bind_failed[i], udp, out)) ++busy;
  }
  if (busy > 0) {
    out << busy << " of " << seen.infos.size() << " ports busy\n";
    return 1;
  }
  out << "all " << seen.infos.size() << " ports free\n";
  return 0;
}

}  // namespace portlease
