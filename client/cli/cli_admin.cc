// The portlease CLI's admin commands: force-release, drain, undrain and
// set-pool. Each sends the server's admin token, read from
// --admin-token-file or $PORTLEASE_ADMIN_TOKEN_FILE; the token itself is
// never printed.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/conventions/admin_token.h"
#include "common/conventions/exit_codes.h"
#include "common/port/port.h"
#include "cli/cli_internal.h"

namespace portlease {
namespace {

int Fail(std::ostream& err, int code, absl::string_view message) {
  err << "portlease: " << message << std::endl;
  return code;
}

constexpr char kTokenEnv[] = "PORTLEASE_ADMIN_TOKEN_FILE";

}  // namespace

absl::StatusOr<std::string> ReadAdminToken(const CliFlags& flags) {
  std::string path = flags.admin_token_file;
  if (path.empty()) {
    const char* env = std::getenv(kTokenEnv);
    if (env != nullptr) path = env;
  }
  if (path.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "admin commands need the server's admin token: pass "
        "--admin-token-file FILE or set ",
        kTokenEnv));
  }
  std::ifstream in(path);
  if (!in) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot read the admin token file ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string token(AdminTokenFromFileContent(buffer.str()));
  if (token.empty()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the admin token file ", path, " is empty"));
  }
  // As portleased requires (common/conventions/admin_token.h). Anything
  // else is not a token file (and could not be sent as call metadata).
  if (!CheckAdminTokenText(token).ok()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the admin token file ", path,
        " does not hold a token (whitespace or control characters inside)"));
  }
  return token;
}

namespace {

// Exit code and one-line message for a failed admin call.
int AdminFailure(std::ostream& err, const Connection& connection,
                 const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kPermissionDenied:
      return Fail(err, kExitNoPermission,
                  absl::StrCat(connection.where.Describe(),
                               ": permission denied: ", status.message(),
                               " (check --admin-token-file or ", kTokenEnv,
                               ")"));
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return Fail(err, kExitUnavailable,
                  absl::StrCat(connection.where.Describe(), ": ",
                               status.ToString()));
    case absl::StatusCode::kInvalidArgument:
      return Fail(err, kExitUsage, status.message());
    default:
      return Fail(err, 1, status.message());
  }
}

std::string RangeOf(const v1::Lease& lease) {
  return lease.count() <= 1 ? absl::StrCat(lease.base_port())
                            : absl::StrCat(lease.base_port(), "-",
                                           lease.base_port() + lease.count() - 1);
}

// What force-release names: a lease id prefix or a port.
struct ReleaseTarget {
  std::string prefix;
  uint32_t port = 0;
};

// Ports have at most 5 digits; lease id prefixes at least 8 characters.
absl::StatusOr<ReleaseTarget> ParseReleaseTarget(const CliFlags& flags) {
  if (flags.positional.size() != 2) {
    return absl::InvalidArgumentError(
        "usage: portlease admin force-release LEASE_ID_PREFIX|PORT");
  }
  const std::string& target = flags.positional[1];
  ReleaseTarget out;
  if (!target.empty() && target.size() <= 5 &&
      std::all_of(target.begin(), target.end(),
                  [](char c) { return absl::ascii_isdigit(c); })) {
    absl::StatusOr<Port> port = ParsePort(target);
    if (!port.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", target, "\" is not a port number (1-65535)"));
    }
    out.port = *port;
  } else if (target.size() < 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", target,
                     "\" is neither a port nor a lease id prefix (at least 8 "
                     "characters, as `portlease list` shows)"));
  } else {
    out.prefix = target;
  }
  return out;
}

int ForceRelease(const CliFlags& flags, const ReleaseTarget& target,
                 const std::string& token, const Connection& connection,
                 std::ostream& out, std::ostream& err) {
  absl::StatusOr<v1::Lease> ended =
      connection.client->ForceRelease(target.prefix, target.port, token);
  if (!ended.ok()) return AdminFailure(err, connection, ended.status());
  if (flags.format == OutputFormat::kJson) {
    v1::ForceReleaseResponse response;
    *response.mutable_lease() = *ended;
    out << ToJson(response) << "\n";
    return 0;
  }
  out << "force-released lease " << ended->lease_id_prefix() << " (ports "
      << RangeOf(*ended) << ") held by " << OwnerSummary(*ended) << "\n";
  return 0;
}

int DrainOrUndrain(bool drain, const CliFlags& flags,
                   const std::vector<uint32_t>& ports, const std::string& token,
                   const Connection& connection, std::ostream& out,
                   std::ostream& err) {
  std::vector<uint32_t> done;
  for (uint32_t port : ports) {
    absl::Status status = drain ? connection.client->DrainPort(port, token)
                                : connection.client->UndrainPort(port, token);
    if (!status.ok()) {
      if (!done.empty() && flags.format != OutputFormat::kJson) {
        out << (drain ? "drained " : "undrained ") << absl::StrJoin(done, " ")
            << " before the failure\n";
      }
      return AdminFailure(err, connection, status);
    }
    done.push_back(port);
    if (flags.format != OutputFormat::kJson) {
      out << "port " << port
          << (drain ? " drained: out of service until undrained (kept "
                      "across restarts; a leased port leaves service when "
                      "its lease ends)"
                    : " undrained: back in service")
          << "\n";
    }
  }
  if (flags.format == OutputFormat::kJson) {
    out << "{\"" << (drain ? "drained" : "undrained") << "\": ["
        << absl::StrJoin(done, ", ") << "]}\n";
  }
  return 0;
}

int SetPool(const CliFlags& flags, const std::string& token,
            const Connection& connection, std::ostream& out,
            std::ostream& err) {
  absl::StatusOr<v1::SetPoolResponse> set =
      connection.client->SetPool(flags.pool, flags.exclude, token);
  if (!set.ok()) return AdminFailure(err, connection, set.status());
  if (flags.format == OutputFormat::kJson) {
    out << ToJson(*set) << "\n";
    return 0;
  }
  out << "pool " << set->pool() << " (" << set->pool_size() << " ports)";
  if (!set->exclude().empty()) out << ", excluding " << set->exclude();
  out << "\n";
  if (set->leases_outside_pool() > 0) {
    out << set->leases_outside_pool()
        << " live lease(s) hold ports outside the new pool: they stay valid "
           "until released or expired; those ports are not granted again\n";
  }
  if (!set->persisted()) {
    out << "runtime only: portleased applies its --pool and --exclude again "
           "when it restarts; put the new values in its configuration to "
           "keep them\n";
  }
  return 0;
}

}  // namespace

int CmdAdmin(const CliFlags& flags, std::ostream& out, std::ostream& err) {
  const std::string sub = flags.positional.empty() ? "" : flags.positional[0];
  if (sub != "force-release" && sub != "drain" && sub != "undrain" &&
      sub != "set-pool") {
    return Fail(err, kExitUsage,
                sub.empty() ? "usage: portlease admin "
                              "force-release|drain|undrain|set-pool ... (see "
                              "--help)"
                            : absl::StrCat("unknown admin command \"", sub,
                                           "\": want force-release, drain, "
                                           "undrain or set-pool"));
  }
  // Arguments first: a usage error needs no token and no server.
  ReleaseTarget target;
  std::vector<uint32_t> ports;
  if (sub == "force-release") {
    absl::StatusOr<ReleaseTarget> parsed = ParseReleaseTarget(flags);
    if (!parsed.ok()) return Fail(err, kExitUsage, parsed.status().message());
    target = *std::move(parsed);
  } else if (sub == "set-pool") {
    if (flags.positional.size() != 1 || flags.pool.empty()) {
      return Fail(err, kExitUsage,
                  "usage: portlease admin set-pool --pool LO-HI[,LO-HI...] "
                  "[--exclude PORTS]");
    }
  } else {
    absl::StatusOr<std::vector<uint32_t>> parsed = ParsePortNumbers(
        {flags.positional.begin() + 1, flags.positional.end()});
    if (!parsed.ok()) return Fail(err, kExitUsage, parsed.status().message());
    if (parsed->empty()) {
      return Fail(err, kExitUsage,
                  absl::StrCat("usage: portlease admin ", sub, " PORT..."));
    }
    ports = *std::move(parsed);
  }
  absl::StatusOr<std::string> token = ReadAdminToken(flags);
  if (!token.ok()) return Fail(err, kExitNoPermission, token.status().message());
  absl::StatusOr<Connection> connection = Connect(/*start_embedded=*/false, flags.connect_timeout);
  if (!connection.ok()) {
    return Fail(err, ConnectExitCode(connection.status()),
                connection.status().message());
  }
  if (sub == "force-release") {
    return ForceRelease(flags, target, *token, *connection, out, err);
  }
  if (sub == "set-pool") return SetPool(flags, *token, *connection, out, err);
  return DrainOrUndrain(sub == "drain", flags, ports, *token, *connection, out,
                        err);
}

}  // namespace portlease
