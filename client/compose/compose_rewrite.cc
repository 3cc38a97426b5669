// The merged compose file written back with leased ports, and compose's
// variable substitution.
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "compose/compose_file.h"

namespace portlease {
namespace {

// A scalar that was quoted in the input is written quoted ("yes" stays a
// string); plain ones are written plain when they can be.
void Emit(YAML::Emitter& out, const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      out << YAML::BeginMap;
      for (const auto& item : node) {
        out << YAML::Key;
        Emit(out, item.first);
        out << YAML::Value;
        Emit(out, item.second);
      }
      out << YAML::EndMap;
      break;
    case YAML::NodeType::Sequence:
      out << YAML::BeginSeq;
      for (const YAML::Node& item : node) Emit(out, item);
      out << YAML::EndSeq;
      break;
    case YAML::NodeType::Scalar:
      if (node.Tag() == "?") {
        out << node.Scalar();
      } else {
        out << YAML::DoubleQuoted << node.Scalar();
      }
      break;
    default:
      out << YAML::Null;
  }
}

YAML::Node QuotedScalar(const std::string& text) {
  YAML::Node node(text);
  node.SetTag("!");
  return node;
}

YAML::Node PlainScalar(const std::string& text) {
  YAML::Node node(text);
  node.SetTag("?");
  return node;
}

// What replaces `entry` in its service's ports list.
std::vector<YAML::Node> Replacement(const ComposePortEntry& entry,
                                    const YAML::Node& original,
                                    const std::vector<int>& ports) {
  std::vector<YAML::Node> nodes;
  for (size_t k = 0; k < entry.targets.size(); ++k) {
    const int port = ports.at(entry.first_port + k);
    if (entry.long_syntax) {
      YAML::Node node = YAML::Clone(original);
      node["published"] = PlainScalar(absl::StrCat(port));
      node["target"] = PlainScalar(absl::StrCat(entry.targets[k]));
      nodes.push_back(node);
      continue;
    }
    std::string text;
    if (!entry.host_ip.empty()) {
      text = entry.host_ip.find(':') != std::string::npos
                 ? absl::StrCat("[", entry.host_ip, "]:")
                 : absl::StrCat(entry.host_ip, ":");
    }
    absl::StrAppend(&text, port, ":", entry.targets[k]);
    if (!entry.protocol.empty()) absl::StrAppend(&text, "/", entry.protocol);
    nodes.push_back(QuotedScalar(text));
  }
  return nodes;
}

}  // namespace

std::string RewriteComposeProject(const ComposeProject& project,
                                  const std::vector<int>& ports,
                                  absl::string_view header) {
  YAML::Node doc = YAML::Clone(project.merged);
  std::map<std::string, std::map<size_t, const ComposePortEntry*>> by_service;
  for (const ComposePortEntry& entry : project.entries) {
    by_service[entry.service][entry.index] = &entry;
  }
  for (const auto& [service, entries] : by_service) {
    const YAML::Node old = project.merged["services"][service]["ports"];
    YAML::Node list(YAML::NodeType::Sequence);
    for (size_t i = 0; i < old.size(); ++i) {
      auto it = entries.find(i);
      if (it == entries.end()) {
        list.push_back(YAML::Clone(old[i]));
        continue;
      }
      for (const YAML::Node& node : Replacement(*it->second, old[i], ports)) {
        list.push_back(node);
      }
    }
    doc["services"][service]["ports"] = list;
  }
  YAML::Emitter out;
  Emit(out, doc);
  return absl::StrCat(header, out.c_str(), "\n");
}

absl::StatusOr<std::string> InterpolateCompose(absl::string_view text,
                                               const VariableLookup& lookup) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '$' || i + 1 == text.size()) {
      out.push_back(text[i++]);
      continue;
    }
    if (text[i + 1] == '$') {
      out.push_back('$');
      i += 2;
      continue;
    }
    std::string name;
    std::string op;
    std::string arg;
    if (text[i + 1] == '{') {
      const size_t close = text.find('}', i + 2);
      if (close == absl::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("unterminated \"${\" in \"", text, "\""));
      }
      absl::string_view body = text.substr(i + 2, close - i - 2);
      size_t n = 0;
      while (n < body.size() &&
             (absl::ascii_isalnum(body[n]) || body[n] == '_')) {
        ++n;
      }
      name = std::string(body.substr(0, n));
      const size_t op_len = n + 1 < body.size() && body[n] == ':' ? 2 : 1;
      op = std::string(body.substr(n, std::min(op_len, body.size() - n)));
      arg = std::string(body.substr(std::min(n + op_len, body.size())));
      i = close + 1;
    } else {
      size_t n = i + 1;
      while (n < text.size() &&
             (absl::ascii_isalnum(text[n]) || text[n] == '_')) {
        ++n;
      }
      if (n == i + 1) {
        out.push_back(text[i++]);
        continue;
      }
      name = std::string(text.substr(i + 1, n - i - 1));
      i = n;
    }
    const std::optional<std::string> value = lookup(name);
    const bool unset = !value.has_value();
    const bool empty = unset || value->empty();
    if (op == ":-" || op == "-") {
      out += (op == ":-" ? empty : unset) ? arg : *value;
    } else if (op == ":?" || op == "?") {
      if (op == ":?" ? empty : unset) {
        return absl::InvalidArgumentError(absl::StrCat(
            "required variable ", name, " is missing a value: ", arg));
      }
      out += *value;
    } else if (op.empty()) {
      out += unset ? "" : *value;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid substitution in \"", text, "\""));
    }
  }
  return out;
}

}  // namespace portlease
