#include "portlease/address.h"

#include <errno.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "portlease/client.h"
#include "portlease/lease_env.h"
#include "lib/embedded_server.h"

namespace portlease {
namespace {

// The server's version when it answers a Status call at `address`.
absl::StatusOr<std::string> ProbeServer(
    const std::string& address, absl::Duration timeout,
    std::shared_ptr<const void>* connection) {
  if (absl::StartsWith(address, "unix:")) {
    struct stat st;
    const std::string path = address.substr(5);
    if (stat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
      return absl::UnavailableError(absl::StrCat("no socket at ", path));
    }
  }
  ClientOptions options;
  options.connect_timeout = absl::ZeroDuration();  // one attempt: a probe
  auto client = std::make_shared<const Client>(address, options);
  absl::StatusOr<v1::StatusResponse> status = client->Status(timeout);
  if (!status.ok()) return status.status();
  *connection = std::move(client);
  return status->version();
}

// What is at the system socket's path.
enum class Presence { kAbsent, kPresent, kForbidden };

// The system server is installed when its socket or the socket's directory
// exists: systemd keeps /run/portlease across a restart
// (RuntimeDirectoryPreserve=restart) while the socket itself is briefly
// gone, and a client must wait for it then, not start a second allocator.
// After `systemctl stop` the directory is removed and private servers are
// started again.
Presence SystemSocketPresence(const std::string& address) {
  if (!absl::StartsWith(address, "unix:")) return Presence::kPresent;
  const std::string path = address.substr(5);
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) return Presence::kPresent;
  if (errno == EACCES) return Presence::kForbidden;
  if (errno != ENOENT && errno != ENOTDIR) return Presence::kPresent;
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return Presence::kAbsent;
  if (stat(path.substr(0, slash).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return Presence::kPresent;
  }
  return Presence::kAbsent;
}

// The group that may use the socket at `path` (or, when it cannot be seen,
// its directory), by name; empty when unknown.
std::string SocketGroup(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    const std::string dir = path.substr(0, path.rfind('/'));
    if (dir.empty() || stat(dir.c_str(), &st) != 0) return "";
  }
  if (const group* g = getgrgid(st.st_gid); g != nullptr) return g->gr_name;
  return absl::StrCat(st.st_gid);
}

// The system socket exists: it must answer.
absl::Status CheckSystemServer(const std::string& system, Presence presence,
                               absl::Duration connect_timeout,
                               std::shared_ptr<const void>* connection) {
  absl::Status status;
  if (presence != Presence::kForbidden) {
    ClientOptions options;
    options.connect_timeout = connect_timeout;
    auto client = std::make_shared<const Client>(system, options);
    status =
        client->Status(std::max(connect_timeout, absl::Milliseconds(500)))
            .status();
    if (status.ok()) {
      *connection = std::move(client);
      return status;
    }
  }
  const std::string path =
      absl::StartsWith(system, "unix:") ? system.substr(5) : system;
  if (presence == Presence::kForbidden ||
      status.code() == absl::StatusCode::kPermissionDenied) {
    const std::string group = SocketGroup(path);
    return absl::PermissionDeniedError(absl::StrCat(
        "the system socket ", path, " refuses user ", getuid(),
        ": join group ", group.empty() ? "portlease" : group,
        " (usermod -aG ", group.empty() ? "portlease" : group,
        " $USER, then log in again), or set PORTLEASE_ADDR; no private "
        "server is started while a system socket exists"));
  }
  return absl::UnavailableError(absl::StrCat(
      "the system socket ", path, " exists but no portleased answers there (",
      status.message(),
      "): check `systemctl status portleased`, or set PORTLEASE_ADDR; no "
      "private server is started while a system socket exists"));
}

// Why `entry` is not a server address; empty when it is one.
std::string AddressProblem(absl::string_view entry) {
  for (const char c : entry) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      return "whitespace inside";
    }
  }
  for (const absl::string_view scheme :
       {"unix:", "unix-abstract:", "dns:", "ipv4:", "ipv6:"}) {
    if (absl::StartsWith(entry, scheme)) {
      return entry.size() > scheme.size() ? "" : "nothing after the scheme";
    }
  }
  const size_t colon = entry.rfind(':');
  if (colon == absl::string_view::npos) {
    return "expected unix:PATH, HOST:PORT or [IPV6]:PORT";
  }
  const absl::string_view host = entry.substr(0, colon);
  uint32_t port = 0;
  if (!absl::SimpleAtoi(entry.substr(colon + 1), &port) || port == 0 ||
      port > 65535) {
    return "the port must be a number from 1 to 65535";
  }
  if (host.empty()) return "no host";
  if (host.front() == '[') {
    return host.size() > 2 && host.back() == ']' ? "" : "unclosed [";
  }
  if (absl::StrContains(host, ':')) {
    return "an IPv6 host needs brackets: [HOST]:PORT";
  }
  return "";
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseAddressList(
    absl::string_view list) {
  std::vector<std::string> addresses;
  std::set<std::string> seen;
  int number = 0;
  for (absl::string_view entry : absl::StrSplit(list, ',')) {
    ++number;
    entry = absl::StripAsciiWhitespace(entry);
    if (entry.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "server address list \"", list, "\": entry ", number, " is empty"));
    }
    if (const std::string problem = AddressProblem(entry); !problem.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad server address \"", entry, "\" (entry ", number,
                       " of \"", list, "\"): ", problem));
    }
    if (!seen.insert(std::string(entry)).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "server address \"", entry, "\" given twice in \"", list, "\""));
    }
    addresses.emplace_back(entry);
  }
  return addresses;
}

std::string ResolvedAddress::Describe() const {
  switch (source) {
    case Source::kEnvironment:
      return absl::StrCat(
          addresses.size() > 1 ? absl::StrJoin(addresses, ",") : address,
          " (PORTLEASE_ADDR)");
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
    absl::StatusOr<std::vector<std::string>> list = ParseAddressList(*addr);
    if (!list.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("PORTLEASE_ADDR: ", list.status().message()));
    }
    resolved.addresses = *std::move(list);
    resolved.address = resolved.addresses.front();
    resolved.source = ResolvedAddress::Source::kEnvironment;
    return resolved;
  }
  std::string system = kSystemAddress;
  if (std::optional<std::string> addr = env("PORTLEASE_SYSTEM_ADDR");
      addr.has_value() && !addr->empty()) {
    system = *addr;
  }
  if (const Presence presence = SystemSocketPresence(system);
      presence != Presence::kAbsent) {
    absl::Status answered = CheckSystemServer(
        system, presence, options.connect_timeout, &resolved.connection);
    if (!answered.ok()) return answered;
    resolved.address = system;
    resolved.addresses = {system};
    resolved.source = ResolvedAddress::Source::kSystem;
    return resolved;
  }
  const EmbeddedPaths paths = EmbeddedServerPaths(env, getuid());
  resolved.address = paths.address();
  resolved.addresses = {resolved.address};
  resolved.source = ResolvedAddress::Source::kEmbedded;
  auto probe = [&options, &resolved](const std::string& address) {
    return ProbeServer(address, options.probe_timeout, &resolved.connection);
  };
  if (!options.start_embedded) {
    std::string version;
    // A live server that is slow to answer is waited for, as a restarting
    // system server is.
    absl::Status running = AwaitLiveServer(
        paths, probe, absl::Now() + options.connect_timeout, &version);
    if (running.ok()) return resolved;
    if (running.code() != absl::StatusCode::kNotFound) return running;
    return absl::NotFoundError(absl::StrCat(
        "no portleased answers (tried ", system, " and ", paths.address(),
        "; PORTLEASE_ADDR is unset)"));
  }
  if (absl::StatusOr<std::string> version = probe(paths.address());
      version.ok()) {
    // Running already: only its version to check.
    absl::Status same = CheckEmbeddedServerVersion(*version, paths);
    if (!same.ok()) return same;
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
