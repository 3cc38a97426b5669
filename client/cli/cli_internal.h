// Internals of the portlease CLI: parsed flags, the commands, formatting and
// local port inspection, each in its own file.
#ifndef PORTLEASE_CLIENT_CLI_CLI_INTERNAL_H_
#define PORTLEASE_CLIENT_CLI_CLI_INTERNAL_H_

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "portlease/address.h"
#include "portlease/client.h"
#include "portlease/lease_env.h"
#include "portlease/owner.h"
#include "portlease/v1/portlease.pb.h"

namespace portlease {

enum class OutputFormat { kTable, kJson, kEnv, kShell };

struct CliFlags {
  std::string command;
  std::vector<std::string> positional;
  OutputFormat format = OutputFormat::kTable;
  // The flags given (names without dashes, in command line order) and the
  // --format value as given: what CheckFlagsApply checks.
  std::vector<std::string> given;
  std::string format_name;
  std::string ports;
  uint32_t count = 0;
  std::string profile;
  absl::Duration ttl = absl::ZeroDuration();
  absl::Duration wait = absl::ZeroDuration();
  bool udp = false;
  // who, preflight: ask the docker CLI which containers publish the ports.
  bool docker = false;
  bool github_env = false;
  std::string gitlab_dotenv;
  OwnerMetadata owner_filter;
  // admin: the token file (else $PORTLEASE_ADMIN_TOKEN_FILE), and set-pool's
  // new pool and excluded ports.
  std::string admin_token_file;
  std::string pool;
  std::string exclude;
  // How long calls retry an unreachable server (--connect-timeout, else
  // PORTLEASE_CONNECT_TIMEOUT, else 10s).
  absl::Duration connect_timeout = absl::Seconds(10);
  // events: --since (a time; a duration is taken back from now) and
  // --limit.
  absl::Time since = absl::InfinitePast();
  uint32_t limit = 0;
  // server stop: stop even while leases are live.
  bool force = false;
  bool help = false;
};

absl::StatusOr<CliFlags> ParseCliFlags(const std::vector<std::string>& args);

// --since: "1h" (that long before `now`) or an RFC 3339 time
// ("2030-01-17T08:00:00Z"). INVALID_ARGUMENT otherwise.
absl::StatusOr<absl::Time> ParseSince(absl::string_view text, absl::Time now);

// INVALID_ARGUMENT, one line naming the flag (or format) and the command,
// when `flags` has a flag or --format value the command does not take, or
// arguments a command without arguments was given. Commands (and admin and
// server subcommands) it does not know are left to their handlers.
absl::Status CheckFlagsApply(const CliFlags& flags);

// A connected client, or the error message (already one line). Its calls
// retry an unreachable server for `connect_timeout`.
struct Connection {
  ResolvedAddress where;
  std::unique_ptr<Client> client;
};
absl::StatusOr<Connection> Connect(bool start_embedded,
                                   absl::Duration connect_timeout);
// The exit code of a failed Connect: kExitUsage for a malformed
// PORTLEASE_ADDR (INVALID_ARGUMENT), else kExitUnavailable.
int ConnectExitCode(const absl::Status& status);

int CmdAcquire(const CliFlags& flags, std::ostream& out, std::ostream& err);
int CmdRelease(const CliFlags& flags, std::ostream& out, std::ostream& err);
int CmdRenew(const CliFlags& flags, std::ostream& out, std::ostream& err);
int CmdList(const CliFlags& flags, std::ostream& out, std::ostream& err);
int CmdStatus(const CliFlags& flags, std::ostream& out, std::ostream& err);
int CmdEvents(const CliFlags& flags, std::ostream& out, std::ostream& err);
int CmdWho(const CliFlags& flags, std::ostream& out, std::ostream& err);
int CmdPreflight(const CliFlags& flags, std::ostream& out, std::ostream& err);
// portlease admin force-release|drain|undrain|set-pool (cli_admin.cc).
// The admin token of --admin-token-file or $PORTLEASE_ADMIN_TOKEN_FILE:
// the file's content without surrounding whitespace, in the format of
// common/conventions/admin_token.h. PERMISSION_DENIED (the message names
// the file, never the content) when no file is named, or it cannot be
// read, or does not hold one word.
absl::StatusOr<std::string> ReadAdminToken(const CliFlags& flags);
int CmdAdmin(const CliFlags& flags, std::ostream& out, std::ostream& err);
// portlease server status|stop (cli_server.cc).
int CmdServer(const CliFlags& flags, std::ostream& out, std::ostream& err);

// Port numbers (1-65535) given as arguments; INVALID_ARGUMENT names the
// first that isn't one.
absl::StatusOr<std::vector<uint32_t>> ParsePortNumbers(
    const std::vector<std::string>& items);

// Formatting.

// --format=json, the machine-readable contract (README "JSON output"):
// one line holding every field of `message` in declaration order, zero,
// empty and false values included and an unset message field as null;
// proto field names (snake_case); enums as their value name without the
// enum type's prefix, lower-cased (LEASE_STATE_LIVE: "live"); integers,
// 64-bit ones included, as numbers; maps as objects with sorted keys;
// Timestamp as an RFC 3339 string and Duration as protobuf's "1.5s".
std::string ToJson(const google::protobuf::Message& message);
// An enum value's JSON name, as ToJson prints it.
std::string EnumJsonName(const google::protobuf::EnumValueDescriptor& value);
// `text` as a quoted JSON string (control characters escaped).
std::string JsonString(absl::string_view text);
// The variables as one JSON object of strings, in their order.
std::string VariablesJson(const Variables& vars);
std::string OwnerSummary(const v1::Lease& lease);
std::string PortsSummary(const v1::Lease& lease);
// "claimed by portleased pid N (user U)": another server on the host holds
// the port (PortInfo.claimed_by).
std::string ServerClaimSummary(const v1::ServerClaim& claim);
// The Status line on host-wide claims: "on (DIR)" or "OFF: why".
std::string ClaimsSummary(const v1::StatusResponse& status);
std::string FormatTimestamp(const google::protobuf::Timestamp& t);

// Local port facts, seen from this host.
struct LocalPortState {
  // A TCP bind (with SO_REUSEADDR) to the wildcard address failed.
  bool bind_failed = false;
  // Sockets using the port, as v1 holders (pid 0 when unknown).
  std::vector<v1::PortHolder> holders;
  bool holders_hidden = false;
};
LocalPortState InspectLocalPort(uint16_t port);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_CLI_CLI_INTERNAL_H_
