#include "portlease/address.h"

#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "portlease/client.h"
#include "portlease/lease_env.h"
#include "src/embedded_server.h"

namespace portlease {
namespace {

// The server's version when it answers a Status call at `address`.
absl::StatusOr<std::string> ProbeServer(const std::string& address,
                                        absl::Duration timeout) {
  if (absl::StartsWith(address, "unix:")) {
    struct stat st;
    const std::string path = address.substr(5);
    if (stat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
      return absl::UnavailableError(absl::StrCat("no socket at ", path));
    }
  }
  Client client(address);
  absl::StatusOr<v1::StatusResponse> status = client.Status(timeout);
  if (!status.ok()) return status.status();
  return status->version();
}

}  // namespace

std::string ResolvedAddress::Describe() const {
  switch (source) {
    case Source::kEnvironment:
      return absl::StrCat(address, " (PORTLEASE_ADDR)");
    case Source::kSystem:
      return absl::StrCat(address, " (system socket)");
    case Source::kEmbedded:
      return absl::StrCat(address, " (embedded default server)");
  }
  return address;
}

absl::StatusOr<ResolvedAddress> ResolveServerAddress(
    const ResolveOptions& options) {
  const VariableLookup env =
      options.environment ? options.environment : ProcessEnvironment();
  ResolvedAddress resolved;
  if (std::optional<std::string> addr = env("PORTLEASE_ADDR");
      addr.has_value() && !addr->empty()) {
    resolved.address = *addr;
    resolved.source = ResolvedAddress::Source::kEnvironment;
    return resolved;
  }
  std::string system = kSystemAddress;
  if (std::optional<std::string> addr = env("PORTLEASE_SYSTEM_ADDR");
      addr.has_value() && !addr->empty()) {
    system = *addr;
  }
  if (ProbeServer(system, options.probe_timeout).ok()) {
    resolved.address = system;
    resolved.source = ResolvedAddress::Source::kSystem;
    return resolved;
  }
  const EmbeddedPaths paths = EmbeddedServerPaths(env, getuid());
  resolved.address = paths.address();
  resolved.source = ResolvedAddress::Source::kEmbedded;
  auto probe = [&options](const std::string& address) {
    return ProbeServer(address, options.probe_timeout);
  };
  if (!options.start_embedded) {
    if (probe(paths.address()).ok()) return resolved;
    return absl::NotFoundError(absl::StrCat(
        "no portleased answers (tried ", system, " and ", paths.address(),
        "; PORTLEASE_ADDR is unset)"));
  }
  if (probe(paths.address()).ok()) {
    // Running already: this only checks its version.
    absl::Status running = EnsureEmbeddedServer(
        paths, "", probe, options.start_timeout, &resolved.started);
    if (!running.ok()) return running;
    return resolved;
  }
  absl::Status dirs = PrepareEmbeddedDirs(paths, getuid());
  if (!dirs.ok()) return dirs;
  absl::StatusOr<std::string> binary = FindServerBinary(env);
  if (!binary.ok()) return binary.status();
  absl::Status ensured = EnsureEmbeddedServer(
      paths, *binary, probe, options.start_timeout, &resolved.started);
  if (!ensured.ok()) return ensured;
  return resolved;
}

}  // namespace portlease
