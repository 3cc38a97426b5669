// The variables a lease exports to a child process, and their output forms.
//
// For a lease of ports named redis, worker (profile or --ports) the variables
// are, in order:
//   REDIS_PORT=41000 WORKER_PORT=41001        one per port (profile env name)
//   PORTLEASE_LEASE_ID=<32 hex>
//   PORTLEASE_PORTS="41000 41001"             request order
//   COMPOSE_PROJECT_NAME=<checkout>-<id8>     unless set in the environment
//   derived variables from the profile, expanded in order.
// Unnamed ports (leases by count) are PORT_0, PORT_1, ...
//
// lease-run exports exactly these (and PORTLEASE_ENV_FILE, see lease-run
// --help); `portlease acquire --format=env|shell` prints exactly these.
//
// Env files. Every file written here is KEY='value' lines (FormatEnvLines)
// that a POSIX shell reads back with `set -a; . FILE`, and ParseEnvLines
// reads back exactly; GitLab dotenv reports and $GITHUB_ENV have their own
// formats (FormatGitLabDotenv, FormatGitHubEnv). Files are created mode
// 0600: they hold the lease id, a secret.
#ifndef PORTLEASE_CLIENT_INCLUDE_PORTLEASE_LEASE_ENV_H_
#define PORTLEASE_CLIENT_INCLUDE_PORTLEASE_LEASE_ENV_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "portlease/template.h"
#include "portlease/v1/portlease.pb.h"
#include "portlease/v1/profile.pb.h"

namespace portlease {

// Ordered KEY, value pairs.
using Variables = std::vector<std::pair<std::string, std::string>>;

// The naming rule of port variables: the name under which port `index` of
// a lease is exported. An unnamed port (a lease by count) is PORT_<index>;
// a named one is the env name `profile` (may be null) declares for it,
// else DefaultPortVariable(name) (redis: REDIS_PORT).
// LeaseVariablesFromEnvironment, below, is the inverse.
std::string PortVariable(absl::string_view port_name, int index,
                         const v1::Profile* profile);

// Builds the variables of `lease`. `profile` may be null (then ports use
// DefaultPortVariable names and there are no derived variables).
// `environment` answers lookups of variables the lease does not define.
// `checkout_dir` names the working directory (for COMPOSE_PROJECT_NAME).
// INVALID_ARGUMENT when a derived variable's template fails to expand.
absl::StatusOr<Variables> LeaseVariables(const v1::Lease& lease,
                                         const v1::Profile* profile,
                                         const VariableLookup& environment,
                                         absl::string_view checkout_dir);

// The inverse of LeaseVariables: the variables of a lease an outer
// lease-run exported, read back from `environment`, for a request of the
// ports of `profile` or, when it is null, of `count` unnamed ports. Nullopt
// unless `environment` has PORTLEASE_LEASE_ID and a valid port in every
// port variable (PortVariable). COMPOSE_PROJECT_NAME is kept when set;
// derived profile variables are expanded again. `is_port` judges a port
// variable's value (lease-run passes common/port's ParsePort, which this
// library does not link). INVALID_ARGUMENT when a derived variable fails
// to expand.
absl::StatusOr<std::optional<Variables>> LeaseVariablesFromEnvironment(
    const v1::Profile* profile, uint32_t count,
    const VariableLookup& environment,
    const std::function<bool(absl::string_view)>& is_port);

// A docker compose project name unique to the lease: the checkout's base
// name reduced to [a-z0-9_-], then '-', then the first 8 characters of the
// lease id. Always matches [a-z0-9][a-z0-9_-]*.
std::string ComposeProjectName(absl::string_view checkout_dir,
                               absl::string_view lease_id);

// Looks `vars` up first, then `fallback` (may be empty).
VariableLookup ChainLookup(const Variables& vars, VariableLookup fallback);

// Looks the process environment up (getenv).
VariableLookup ProcessEnvironment();

// True for the names a lease must not export a port or profile variable
// as: those lease-run itself sets (PORTLEASE_*, COMPOSE_PROJECT_NAME,
// PORT_<n>) and those the environment must keep (PATH, HOME, SHELL, USER,
// LD_*). ValidateProfile refuses them.
bool IsReservedVariableName(absl::string_view name);

// "KEY='value'\n" per variable (ShellQuote), so that `set -a; . FILE`
// in a POSIX shell sets exactly `vars`, whatever the values hold.
std::string FormatEnvLines(const Variables& vars);

// A GitLab CI dotenv report (artifacts:reports:dotenv): "KEY=value\n" per
// variable, unquoted, since GitLab takes a value literally (quotes
// included) up to the end of its line. INVALID_ARGUMENT naming the
// variable for a value GitLab cannot carry: one with a newline or a
// carriage return.
absl::StatusOr<std::string> FormatGitLabDotenv(const Variables& vars);

// Lines for $GITHUB_ENV: "KEY=value\n" for a single-line value, and
// "KEY<<DELIM\nvalue\nDELIM\n" for a value with a newline or carriage
// return, DELIM being the first result of `make_delimiter` that occurs in
// no such value (a delimiter inside the value would end it early).
std::string FormatGitHubEnv(const Variables& vars,
                            const std::function<std::string()>& make_delimiter);

// "PORTLEASE_EOF_" and 32 random hex digits (std::random_device), for
// FormatGitHubEnv.
std::string RandomDelimiter();

// "export KEY='value'\n" per variable, quoted for POSIX shells.
std::string FormatShellExports(const Variables& vars);

// Renders `spec` = "TEMPLATE:OUTPUT": expands the file TEMPLATE with
// `lookup` (ExpandTemplate; errors name TEMPLATE and the line) and writes
// OUTPUT (via a temporary file and rename). INVALID_ARGUMENT for a spec
// without ':' or a bad template; NOT_FOUND / INTERNAL for file errors.
absl::Status RenderTemplateFile(absl::string_view spec,
                                const VariableLookup& lookup);

// Replaces the file at `path` by one holding `content`, mode 0600: written
// to a temporary file next to it, then renamed over it, so that a reader
// sees the old file or the new one, never a part. INTERNAL naming the path
// on failure (the temporary file is removed).
absl::Status WritePrivateFile(const std::string& path,
                              absl::string_view content);

// Appends `content` to the file at `path` in one write, creating it with
// mode 0600 when it does not exist (an existing file keeps its mode).
// INTERNAL naming the path on failure.
absl::Status AppendPrivateFile(const std::string& path,
                               absl::string_view content);

// Writes FormatEnvLines(vars) to `path`: replacing it (WritePrivateFile)
// or, when `append`, appending (AppendPrivateFile). Errors as those.
absl::Status WriteVariablesFile(const std::string& path, const Variables& vars,
                                bool append);

// Parses FormatEnvLines output. Per line: KEY=VALUE, where a VALUE that
// starts with a single quote is read as a POSIX shell word of single-quoted
// parts (which may span lines), backslash-escaped characters and plain
// characters, and any other VALUE is taken literally up to the end of the
// line (the unquoted KEY=value lines of earlier versions and of hand-written
// files). Blank lines and lines starting with '#' are skipped.
// INVALID_ARGUMENT naming `source_name` and the line for a line without '=',
// an invalid variable name or an unterminated quote.
absl::StatusOr<Variables> ParseEnvLines(absl::string_view text,
                                        absl::string_view source_name);

// Reads and parses the file at `path` (ParseEnvLines). NOT_FOUND when it
// does not exist; INTERNAL naming the path when it cannot be read.
absl::StatusOr<Variables> ReadVariablesFile(const std::string& path);

// Single-quotes `value` for a POSIX shell.
std::string ShellQuote(absl::string_view value);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_INCLUDE_PORTLEASE_LEASE_ENV_H_
