#include "common/host/docker_proxy.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace portlease {
namespace {

// Sets the field of `proxy` that flag `name` names; unknown flags are
// ignored (docker-proxy has more, e.g. -use-listen-fd).
void SetFlag(absl::string_view name, absl::string_view value,
             DockerProxy* proxy) {
  if (name == "proto") {
    proxy->protocol = std::string(value);
  } else if (name == "host-ip") {
    proxy->host_ip = std::string(value);
  } else if (name == "host-port") {
    if (!absl::SimpleAtoi(value, &proxy->host_port)) proxy->host_port = 0;
  } else if (name == "container-ip") {
    proxy->container_ip = std::string(value);
  } else if (name == "container-port") {
    if (!absl::SimpleAtoi(value, &proxy->container_port)) {
      proxy->container_port = 0;
    }
  }
}

}  // namespace

std::string DockerProxy::ContainerAddress() const {
  if (container_ip.empty() || container_port <= 0) return "";
  if (absl::StrContains(container_ip, ':')) {
    return absl::StrCat("[", container_ip, "]:", container_port);
  }
  return absl::StrCat(container_ip, ":", container_port);
}

std::optional<DockerProxy> ParseDockerProxy(absl::string_view command) {
  std::vector<absl::string_view> words =
      absl::StrSplit(command, ' ', absl::SkipEmpty());
  if (words.empty()) return std::nullopt;
  absl::string_view program = words[0];
  if (const size_t slash = program.rfind('/');
      slash != absl::string_view::npos) {
    program.remove_prefix(slash + 1);
  }
  if (program != "docker-proxy") return std::nullopt;
  DockerProxy proxy;
  for (size_t i = 1; i < words.size(); ++i) {
    absl::string_view word = words[i];
    if (!absl::ConsumePrefix(&word, "-")) continue;
    absl::ConsumePrefix(&word, "-");
    if (const size_t eq = word.find('='); eq != absl::string_view::npos) {
      SetFlag(word.substr(0, eq), word.substr(eq + 1), &proxy);
    } else if (i + 1 < words.size() && !absl::StartsWith(words[i + 1], "-")) {
      // (A flag followed by another flag is a boolean one.)
      SetFlag(word, words[i + 1], &proxy);
      ++i;
    }
  }
  return proxy;
}

}  // namespace portlease
