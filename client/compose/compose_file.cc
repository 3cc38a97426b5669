// Reading and merging compose files; the ports entries (compose_ports.cc
// parses one entry, compose_rewrite.cc writes the result).
#include "compose/compose_file.h"

#include <unistd.h>

#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/system/files.h"
#include "compose/compose_ports.h"

namespace portlease {
namespace {

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

std::string Join(const std::string& dir, const std::string& path) {
  if (path.empty() || path.front() == '/' || dir.empty()) return path;
  return absl::StrCat(dir, "/", path);
}

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Lists that replace rather than extend the base service's.
bool ReplacesList(absl::string_view key) {
  return key == "command" || key == "entrypoint" || key == "test";
}

bool SameNode(const YAML::Node& a, const YAML::Node& b) {
  return YAML::Dump(a) == YAML::Dump(b);
}

// `override` merged into `base` (a fresh node; neither is changed).
YAML::Node Merge(const YAML::Node& base, const YAML::Node& override,
                 absl::string_view key) {
  if (base.IsMap() && override.IsMap()) {
    YAML::Node merged = YAML::Clone(base);
    for (const auto& item : override) {
      const std::string name = item.first.as<std::string>();
      const YAML::Node old = base[name];
      merged[name] =
          old ? Merge(old, item.second, name) : YAML::Clone(item.second);
    }
    return merged;
  }
  if (base.IsSequence() && override.IsSequence() && !ReplacesList(key)) {
    YAML::Node merged = YAML::Clone(base);
    for (const YAML::Node& item : override) {
      bool seen = false;
      for (const YAML::Node& old : base) seen = seen || SameNode(old, item);
      if (!seen) merged.push_back(YAML::Clone(item));
    }
    return merged;
  }
  return YAML::Clone(override);
}

// KEY=VALUE lines of the project's .env file (# comments, optional
// quotes); none when it is missing.
std::map<std::string, std::string> ReadDotEnv(const std::string& dir) {
  std::map<std::string, std::string> vars;
  absl::StatusOr<std::string> text = ReadFile(Join(dir, ".env"));
  if (!text.ok()) return vars;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    absl::ConsumePrefix(&line, "export ");
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    vars[std::string(absl::StripAsciiWhitespace(line.substr(0, eq)))] =
        std::string(value);
  }
  return vars;
}

using PortOrigins = ComposePortOrigins;

std::string CurrentDir() {
  char buf[4096];
  return getcwd(buf, sizeof(buf)) == nullptr ? "" : buf;
}

void NotePortOrigins(const YAML::Node& merged, const std::string& file,
                     PortOrigins& origins) {
  const YAML::Node services = merged["services"];
  if (!services || !services.IsMap()) return;
  for (const auto& service : services) {
    const std::string name = service.first.as<std::string>();
    const YAML::Node ports = service.second["ports"];
    std::vector<std::string>& from = origins[name];
    const size_t size = ports && ports.IsSequence() ? ports.size() : 0;
    while (from.size() < size) from.push_back(file);
  }
}

// A service's YAML merge key ("<<: *base", or a list of them) resolved as
// YAML 1.1 does: the keys the service does not set itself are copied in.
// yaml-cpp keeps "<<" as a plain key.
void ResolveMergeKey(YAML::Node service) {
  const YAML::Node merged = service["<<"];
  if (!merged) return;
  std::vector<YAML::Node> sources;
  if (merged.IsSequence()) {
    for (const YAML::Node& source : merged) sources.push_back(source);
  } else {
    sources.push_back(merged);
  }
  service.remove("<<");
  for (const YAML::Node& source : sources) {
    if (!source.IsMap()) continue;
    for (const auto& item : source) {
      const std::string key = item.first.as<std::string>();
      if (!service[key]) service[key] = YAML::Clone(item.second);
    }
  }
}

// Resolves merge keys; INVALID_ARGUMENT for `extends` (another service's
// ports, which lease-run would not see).
absl::Status PrepareServices(YAML::Node doc, const std::string& file) {
  YAML::Node services = doc["services"];
  if (!services || !services.IsMap()) return absl::OkStatus();
  for (auto service : services) {
    if (!service.second.IsMap()) continue;
    ResolveMergeKey(service.second);
    if (service.second["extends"]) {
      return absl::InvalidArgumentError(absl::StrCat(
          file, ": service ", service.first.as<std::string>(),
          ": \"extends\" is not supported by lease-run --compose (its ports "
          "would not be leased); merge the files with `docker compose config` "
          "first"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> DefaultComposeFiles(
    const VariableLookup& environment, const std::string& dir) {
  std::vector<std::string> files;
  // As compose: the environment first, then the directory's .env file.
  const std::map<std::string, std::string> dotenv = ReadDotEnv(dir);
  const auto setting = [&](const char* name) -> std::optional<std::string> {
    if (std::optional<std::string> value = environment(name)) return value;
    auto it = dotenv.find(name);
    if (it == dotenv.end()) return std::nullopt;
    return it->second;
  };
  const std::optional<std::string> listed = setting("COMPOSE_FILE");
  if (listed.has_value() && !listed->empty()) {
    const std::optional<std::string> sep = setting("COMPOSE_PATH_SEPARATOR");
    const std::string separator = sep.has_value() && !sep->empty() ? *sep : ":";
    for (absl::string_view file :
         absl::StrSplit(*listed, separator, absl::SkipEmpty())) {
      files.push_back(Join(dir, std::string(file)));
    }
    return files;
  }
  for (const char* name : {"compose", "docker-compose"}) {
    for (const char* ext : {"yaml", "yml"}) {
      const std::string file = Join(dir, absl::StrCat(name, ".", ext));
      if (!Exists(file)) continue;
      files.push_back(file);
      for (const char* oext : {"yaml", "yml"}) {
        const std::string o = Join(dir, absl::StrCat(name, ".override.", oext));
        if (Exists(o)) {
          files.push_back(o);
          break;
        }
      }
      return files;
    }
  }
  return absl::NotFoundError(absl::StrCat(
      "no compose file in ", dir,
      " (compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml); "
      "name one with --compose-file"));
}

absl::StatusOr<ComposeProject> LoadComposeProject(
    const std::vector<std::string>& files, const VariableLookup& environment,
    int max_ports) {
  ComposeProject project;
  PortOrigins origins;
  for (const std::string& given : files) {
    const std::string file =
        given.front() == '/' ? given : Join(CurrentDir(), given);
    absl::StatusOr<std::string> text = ReadFile(file);
    if (!text.ok()) {
      return absl::InvalidArgumentError(std::string(text.status().message()));
    }
    YAML::Node doc;
    try {
      doc = YAML::Load(*text);
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(
          given, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
    }
    if (!doc.IsMap()) {
      return absl::InvalidArgumentError(
          absl::StrCat(given, ": not a compose file (want a mapping)"));
    }
    absl::Status supported = PrepareServices(doc, given);
    if (!supported.ok()) return supported;
    if (project.files.empty()) {
      project.dir = DirName(file);
      project.merged = YAML::Clone(doc);
    } else {
      project.merged = Merge(project.merged, doc, "");
    }
    project.files.push_back(file);
    NotePortOrigins(project.merged, given, origins);
  }
  if (project.files.empty()) {
    return absl::InvalidArgumentError("no compose file");
  }
  const std::map<std::string, std::string> dotenv = ReadDotEnv(project.dir);
  const VariableLookup lookup =
      [&](absl::string_view name) -> std::optional<std::string> {
    if (std::optional<std::string> v = environment(name)) return v;
    auto it = dotenv.find(std::string(name));
    if (it != dotenv.end()) return it->second;
    return std::nullopt;
  };
  absl::Status found = CollectComposePorts(project, origins, lookup, max_ports);
  if (!found.ok()) return found;
  return project;
}

}  // namespace portlease
