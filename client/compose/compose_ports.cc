#include "compose/compose_ports.h"

#include <set>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace portlease {
namespace {

constexpr size_t kMaxNameLength = 32;

struct PortRange {
  int first = 0;
  int last = 0;
  int size() const { return last - first + 1; }
};

// "80" or "8000-8010", each 1..65535.
absl::StatusOr<PortRange> ParseRange(absl::string_view text,
                                     absl::string_view what) {
  std::vector<absl::string_view> ends = absl::StrSplit(text, '-');
  PortRange range;
  bool ok = ends.size() <= 2 && absl::SimpleAtoi(ends[0], &range.first);
  range.last = range.first;
  if (ok && ends.size() == 2) ok = absl::SimpleAtoi(ends[1], &range.last);
  for (absl::string_view end : ends) {
    ok = ok && !end.empty() && absl::c_all_of(end, absl::ascii_isdigit);
  }
  if (!ok || range.first < 1 || range.last > 65535 ||
      range.last < range.first) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " port \"", text, "\" is not a port number (1-65535) or range"));
  }
  return range;
}

// The target ports leased for `published` (empty: Docker's choice) and
// `target`.
absl::Status FillTargets(absl::string_view published, absl::string_view target,
                         ComposePortEntry* entry) {
  absl::StatusOr<PortRange> to = ParseRange(target, "target");
  if (!to.ok()) return to.status();
  if (!published.empty()) {
    absl::StatusOr<PortRange> from = ParseRange(published, "published");
    if (!from.ok()) return from.status();
    if (to->size() == 1) {
      entry->targets = {to->first};  // one port of a published range
      return absl::OkStatus();
    }
    if (from->size() != to->size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("published range ", published, " and target range ",
                       target, " differ in length"));
    }
  }
  for (int port = to->first; port <= to->last; ++port) {
    entry->targets.push_back(port);
  }
  return absl::OkStatus();
}

absl::Status ParseShort(absl::string_view spec, ComposePortEntry* entry) {
  const size_t slash = spec.rfind('/');
  if (slash != absl::string_view::npos) {
    entry->protocol = std::string(spec.substr(slash + 1));
    spec = spec.substr(0, slash);
  }
  absl::string_view published;
  absl::string_view target = spec;
  if (absl::ConsumePrefix(&spec, "[")) {
    const size_t close = spec.find("]:");
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError("unterminated [IPv6 address]");
    }
    entry->host_ip = std::string(spec.substr(0, close));
    spec = spec.substr(close + 2);
    const size_t colon = spec.find(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError("want [HOST_IP]:PUBLISHED:TARGET");
    }
    published = spec.substr(0, colon);
    target = spec.substr(colon + 1);
  } else {
    const size_t last = spec.rfind(':');
    if (last != absl::string_view::npos) {
      target = spec.substr(last + 1);
      published = spec.substr(0, last);
      const size_t before = published.rfind(':');
      if (before != absl::string_view::npos) {
        entry->host_ip = std::string(published.substr(0, before));
        published = published.substr(before + 1);
      }
    }
  }
  return FillTargets(published, target, entry);
}

std::string ScalarOf(const YAML::Node& node) {
  return node && node.IsScalar() ? node.Scalar() : "";
}

absl::Status ParseLong(const YAML::Node& node, const VariableLookup& lookup,
                       ComposePortEntry* entry) {
  entry->long_syntax = true;
  std::string fields[4];
  const char* keys[4] = {"target", "published", "host_ip", "protocol"};
  for (int i = 0; i < 4; ++i) {
    if (node[keys[i]] && !node[keys[i]].IsScalar()) {
      return absl::InvalidArgumentError(
          absl::StrCat(keys[i], " is not a scalar"));
    }
    absl::StatusOr<std::string> value =
        InterpolateCompose(ScalarOf(node[keys[i]]), lookup);
    if (!value.ok()) return value.status();
    fields[i] = std::string(absl::StripAsciiWhitespace(*value));
  }
  if (fields[0].empty()) return absl::InvalidArgumentError("no target");
  entry->host_ip = fields[2];
  entry->protocol = fields[3];
  return FillTargets(fields[1], fields[0], entry);
}

std::string Sanitized(absl::string_view text) {
  std::string out;
  for (char c : text) {
    c = absl::ascii_tolower(c);
    const bool ok = absl::ascii_isalnum(c) || c == '_' || c == '-';
    out.push_back(ok ? c : '_');
  }
  if (out.empty() || !absl::ascii_isalpha(out.front())) out.insert(0, "s");
  return out;
}

std::string NameWithSuffix(absl::string_view service, int target,
                           absl::string_view suffix) {
  std::string tail = absl::StrCat("_", target, suffix);
  std::string head = Sanitized(service);
  if (head.size() + tail.size() > kMaxNameLength) {
    head.resize(kMaxNameLength - tail.size());
  }
  return head + tail;
}

absl::Status CheckProtocol(const std::string& p) {
  if (p.empty() || p == "tcp" || p == "udp" || p == "sctp") {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("protocol \"", p, "\" is not tcp, udp or sctp"));
}

std::string EntryText(const YAML::Node& node) {
  if (node.IsScalar()) return node.Scalar();
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

}  // namespace

absl::Status ParseComposePortEntry(const YAML::Node& node,
                                   const VariableLookup& lookup,
                                   ComposePortEntry* entry) {
  if (node.IsMap()) {
    absl::Status parsed = ParseLong(node, lookup, entry);
    if (!parsed.ok()) return parsed;
    return CheckProtocol(entry->protocol);
  }
  if (!node.IsScalar()) {
    return absl::InvalidArgumentError("not a string or a mapping");
  }
  absl::StatusOr<std::string> spec = InterpolateCompose(node.Scalar(), lookup);
  if (!spec.ok()) return spec.status();
  absl::Status parsed = ParseShort(absl::StripAsciiWhitespace(*spec), entry);
  if (!parsed.ok()) return parsed;
  return CheckProtocol(entry->protocol);
}

std::string ComposePortName(absl::string_view service, int target) {
  return NameWithSuffix(service, target, "");
}

absl::Status CollectComposePorts(ComposeProject& project,
                                 const ComposePortOrigins& origins,
                                 const VariableLookup& lookup, int max_ports) {
  const YAML::Node services = project.merged["services"];
  if (!services || !services.IsMap()) return absl::OkStatus();
  std::set<std::string> used;
  for (const auto& service : services) {
    const std::string name = service.first.as<std::string>();
    const YAML::Node ports =
        service.second.IsMap() ? service.second["ports"] : YAML::Node();
    if (!ports || !ports.IsSequence()) continue;
    const auto from = origins.find(name);
    for (size_t i = 0; i < ports.size(); ++i) {
      ComposePortEntry entry;
      entry.file = from != origins.end() && i < from->second.size()
                       ? from->second[i]
                       : project.files.front();
      entry.service = name;
      entry.text = EntryText(ports[i]);
      entry.index = i;
      entry.first_port = project.names.size();
      absl::Status parsed = ParseComposePortEntry(ports[i], lookup, &entry);
      const int total =
          static_cast<int>(project.names.size() + entry.targets.size());
      if (parsed.ok() && total > max_ports) {
        parsed = absl::InvalidArgumentError(absl::StrCat(
            total, " ports in all, more than a lease's ", max_ports));
      }
      if (!parsed.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(entry.file, ": service ", name, ": ports entry \"",
                         entry.text, "\": ", parsed.message()));
      }
      const bool tcp = entry.protocol.empty() || entry.protocol == "tcp";
      project.udp = project.udp || !tcp;
      for (int target : entry.targets) {
        std::string port_name = NameWithSuffix(name, target, "");
        if (used.count(port_name) != 0 && !tcp) {
          port_name = NameWithSuffix(name, target, "_" + entry.protocol);
        }
        for (int n = 2; used.count(port_name) != 0; ++n) {
          port_name = NameWithSuffix(name, target, absl::StrCat("_", n));
        }
        used.insert(port_name);
        project.names.push_back(port_name);
      }
      project.entries.push_back(std::move(entry));
    }
  }
  return absl::OkStatus();
}

}  // namespace portlease
