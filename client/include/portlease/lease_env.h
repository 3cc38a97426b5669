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
// lease-run exports exactly these; `portlease acquire --format=env|shell`
// prints exactly these.
#ifndef PORTLEASE_CLIENT_INCLUDE_PORTLEASE_LEASE_ENV_H_
#define PORTLEASE_CLIENT_INCLUDE_PORTLEASE_LEASE_ENV_H_

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

// Builds the variables of `lease`. `profile` may be null (then ports use
// DefaultPortVariable names and there are no derived variables).
// `environment` answers lookups of variables the lease does not define.
// `checkout_dir` names the working directory (for COMPOSE_PROJECT_NAME).
// INVALID_ARGUMENT when a derived variable's template fails to expand.
absl::StatusOr<Variables> LeaseVariables(const v1::Lease& lease,
                                         const v1::Profile* profile,
                                         const VariableLookup& environment,
                                         absl::string_view checkout_dir);

// A docker compose project name unique to the lease: the checkout's base
// name reduced to [a-z0-9_-], then '-', then the first 8 characters of the
// lease id. Always matches [a-z0-9][a-z0-9_-]*.
std::string ComposeProjectName(absl::string_view checkout_dir,
                               absl::string_view lease_id);

// Looks `vars` up first, then `fallback` (may be empty).
VariableLookup ChainLookup(const Variables& vars, VariableLookup fallback);

// Looks the process environment up (getenv).
VariableLookup ProcessEnvironment();

// "KEY=value\n" per variable.
std::string FormatEnvLines(const Variables& vars);

// "export KEY='value'\n" per variable, quoted for POSIX shells.
std::string FormatShellExports(const Variables& vars);

// Renders `spec` = "TEMPLATE:OUTPUT": expands the file TEMPLATE with
// `lookup` (ExpandTemplate; errors name TEMPLATE and the line) and writes
// OUTPUT (via a temporary file and rename). INVALID_ARGUMENT for a spec
// without ':' or a bad template; NOT_FOUND / INTERNAL for file errors.
absl::Status RenderTemplateFile(absl::string_view spec,
                                const VariableLookup& lookup);

// Writes FormatEnvLines(vars) to `path`, truncating it or, when `append`,
// appending. INTERNAL naming the path on failure.
absl::Status WriteVariablesFile(const std::string& path, const Variables& vars,
                                bool append);

// Parses FormatEnvLines output: KEY=value per line; blank lines and lines
// starting with '#' are skipped. INVALID_ARGUMENT naming `source_name` and
// the line for a line without '=' or with an invalid variable name.
absl::StatusOr<Variables> ParseEnvLines(absl::string_view text,
                                        absl::string_view source_name);

// Reads and parses the file at `path` (ParseEnvLines). NOT_FOUND when it
// does not exist; INTERNAL naming the path when it cannot be read.
absl::StatusOr<Variables> ReadVariablesFile(const std::string& path);

// Single-quotes `value` for a POSIX shell.
std::string ShellQuote(absl::string_view value);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_INCLUDE_PORTLEASE_LEASE_ENV_H_
