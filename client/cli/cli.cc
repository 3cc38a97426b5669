// The portlease CLI: dispatch, and the commands that change leases (its
// flags are in cli_flags.cc, its --help text in cli_usage.cc).
#include "cli/cli.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/conventions/exit_codes.h"
#include "portlease/lease_env.h"
#include "portlease/profile.h"
#include "cli_common/acquire_flow.h"
#include "cli/cli_internal.h"
#include "cli_common/signal_watch.h"

namespace portlease {
namespace {

int Fail(std::ostream& err, int code, absl::string_view message) {
  err << "portlease: " << message << std::endl;
  return code;
}

// A full lease id: 32 lower-case hex characters, as PORTLEASE_LEASE_ID
// holds. INVALID_ARGUMENT otherwise, saying where to find one.
absl::Status CheckLeaseId(const std::string& id) {
  const bool hex = std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f');
  });
  if (id.size() == 32 && hex) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "\"", id, "\" is not a lease id: want the full id, 32 hex characters ",
      "(PORTLEASE_LEASE_ID; list shows only the first 8)"));
}

// A lease another caller holds (renew, release): 77, pointing at the way
// an administrator ends it.
int NotYourLease(std::ostream& err, const Connection& connection,
                 const absl::Status& status) {
  return Fail(err, kExitNoPermission,
              absl::StrCat(connection.where.Describe(), ": ",
                           status.message(),
                           "; the lease belongs to another caller: its "
                           "holder, root or `portlease admin force-release` "
                           "(with the admin token) can end it"));
}

// A failed call to the server: 69 when it could not be reached, 2 when it
// refused the request as invalid (e.g. a ttl above its --max-ttl), else 1.
int CallFailure(std::ostream& err, const Connection& connection,
                const absl::Status& status) {
  const bool unreachable =
      status.code() == absl::StatusCode::kUnavailable ||
      status.code() == absl::StatusCode::kDeadlineExceeded;
  const bool refused = status.code() == absl::StatusCode::kInvalidArgument;
  return Fail(err, unreachable ? kExitUnavailable : refused ? kExitUsage : 1,
              absl::StrCat(connection.where.Describe(), ": ",
                           status.ToString()));
}

// As lease-run computes it, so COMPOSE_PROJECT_NAME has the same base.
std::string CurrentDirectory() {
  char buf[4096];
  if (getcwd(buf, sizeof(buf)) == nullptr) return "";
  return buf;
}

// What acquire needs before it asks for ports: an explicit --ttl, and
// GITHUB_ENV for --github-env. INVALID_ARGUMENT saying which.
absl::Status CheckAcquireFlags(const CliFlags& flags) {
  if (flags.ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "acquire needs an explicit --ttl (e.g. --ttl 300s): nothing "
        "holds this lease, it lives until released or expired");
  }
  if (flags.github_env && (std::getenv("GITHUB_ENV") == nullptr ||
                           *std::getenv("GITHUB_ENV") == '\0')) {
    return absl::InvalidArgumentError("--github-env: GITHUB_ENV is not set");
  }
  return absl::OkStatus();
}

// --github-env and --gitlab-dotenv: everything is formatted before
// anything is written. The error names the flag.
absl::Status WriteCiFiles(const CliFlags& flags, const Variables& vars) {
  std::string github_lines;
  if (flags.github_env) github_lines = FormatGitHubEnv(vars, RandomDelimiter);
  std::string gitlab_lines;
  if (!flags.gitlab_dotenv.empty()) {
    absl::StatusOr<std::string> lines = FormatGitLabDotenv(vars);
    if (!lines.ok()) {
      return absl::InternalError(
          absl::StrCat("--gitlab-dotenv ", flags.gitlab_dotenv, ": ",
                       lines.status().message()));
    }
    gitlab_lines = *std::move(lines);
  }
  if (flags.github_env) {
    absl::Status s = AppendPrivateFile(std::getenv("GITHUB_ENV"), github_lines);
    if (!s.ok()) {
      return absl::InternalError(absl::StrCat("--github-env: ", s.message()));
    }
  }
  if (!flags.gitlab_dotenv.empty()) {
    absl::Status s = WritePrivateFile(flags.gitlab_dotenv, gitlab_lines);
    if (!s.ok()) {
      return absl::InternalError(
          absl::StrCat("--gitlab-dotenv: ", s.message()));
    }
  }
  return absl::OkStatus();
}

// The acquired lease and its variables on `out`, in --format.
absl::Status PrintAcquired(const CliFlags& flags, const v1::Lease& lease,
                           const Variables& vars, std::ostream& out) {
  switch (flags.format) {
    case OutputFormat::kEnv:
      out << FormatEnvLines(vars);
      break;
    case OutputFormat::kShell:
      out << FormatShellExports(vars);
      break;
    case OutputFormat::kJson:
      out << "{\"lease\": " << ToJson(lease)
          << ", \"env\": " << VariablesJson(vars) << "}\n";
      break;
    case OutputFormat::kTable:
      out << "lease " << lease.lease_id() << " ports " << PortsSummary(lease)
          << " expires " << FormatTimestamp(lease.expires_at()) << "\n";
      for (const auto& [key, value] : vars) out << key << "=" << value << "\n";
      break;
  }
  out << std::flush;
  if (!out) {
    return absl::InternalError(
        "cannot write the variables to standard output");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Connection> Connect(bool start_embedded,
                                   absl::Duration connect_timeout) {
  ResolveOptions options;
  options.start_embedded = start_embedded;
  options.connect_timeout = connect_timeout;
  absl::StatusOr<ResolvedAddress> where = ResolveServerAddress(options);
  if (!where.ok()) return where.status();
  Connection connection;
  connection.where = *where;
  ClientOptions client_options;
  client_options.connect_timeout = connect_timeout;
  connection.client =
      std::make_unique<Client>(where->addresses, client_options);
  return connection;
}

int ConnectExitCode(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument ? kExitUsage
                                                             : kExitUnavailable;
}

int CmdAcquire(const CliFlags& flags, std::ostream& out, std::ostream& err) {
  absl::StatusOr<PortRequest> request =
      MakePortRequest(flags.ports, flags.count, flags.profile);
  if (!request.ok()) return Fail(err, kExitUsage, request.status().message());
  absl::Status usable = CheckAcquireFlags(flags);
  if (!usable.ok()) return Fail(err, kExitUsage, usable.message());
  // SIGINT/SIGTERM/SIGHUP end the command at once while it looks for a
  // server, and cancel the wait (keeping no lease) once it asks for ports.
  BlockCancelSignals();
  SignalWatch signals;
  absl::StatusOr<Connection> connection = Connect(/*start_embedded=*/true, flags.connect_timeout);
  if (!connection.ok()) {
    return Fail(err, ConnectExitCode(connection.status()),
                connection.status().message());
  }
  const Client& client = *connection->client;
  std::function<absl::StatusOr<v1::Lease>(const AcquireSpec&)> acquire =
      [&client](const AcquireSpec& spec) { return client.Acquire(spec); };
  const AcquireSpec spec = SpecFromRequest(*request, flags.ttl, flags.udp);
  signals.OnSignal([&client] { client.Cancel(); });
  absl::StatusOr<v1::Lease> lease =
      AcquireWithWait(spec, flags.wait, err, "portlease", acquire);
  signals.Stop();
  if (const int sig = signals.signal(); sig != 0) {
    client.ClearCancellation();
    if (lease.ok()) {
      client
          .Release(lease->lease_id(), absl::Seconds(1), lease->fencing_token())
          .IgnoreError();
    } else {
      EndCancelledAcquire(client, spec);
    }
    return Fail(err, 128 + sig, CancelledMessage(sig));
  }
  if (!lease.ok()) {
    return Fail(err, AcquireErrorExitCode(lease.status(), flags.wait),
                AcquireErrorMessage(lease.status(),
                                    connection->where.Describe(), flags.wait));
  }
  // From here on the lease exists and only this process knows its id: a
  // failure releases it, and the one error line says so.
  auto fail_granted = [&](int code, absl::string_view what) {
    const std::string prefix = lease->lease_id().substr(0, 8);
    const absl::Status released = client.Release(
        lease->lease_id(), absl::ZeroDuration(), lease->fencing_token());
    return Fail(
        err, code,
        released.ok()
            ? absl::StrCat(what, "; released lease ", prefix)
            : absl::StrCat(what, "; releasing lease ", prefix, " failed too (",
                           released.message(), "): it expires at ",
                           FormatTimestamp(lease->expires_at())));
  };
  absl::StatusOr<Variables> vars = LeaseVariables(
      *lease, request->profile.has_value() ? &*request->profile : nullptr,
      ProcessEnvironment(), CurrentDirectory());
  if (!vars.ok()) return fail_granted(kExitUsage, vars.status().message());
  absl::Status written = WriteCiFiles(flags, *vars);
  if (!written.ok()) return fail_granted(1, written.message());
  absl::Status printed = PrintAcquired(flags, *lease, *vars, out);
  if (!printed.ok()) return fail_granted(1, printed.message());
  return 0;
}

int CmdRelease(const CliFlags& flags, std::ostream& out, std::ostream& err) {
  if (flags.positional.size() != 1) {
    return Fail(err, kExitUsage, "usage: portlease release LEASE_ID");
  }
  const std::string& id = flags.positional[0];
  absl::Status valid = CheckLeaseId(id);
  if (!valid.ok()) return Fail(err, kExitUsage, valid.message());
  absl::StatusOr<Connection> connection = Connect(false, flags.connect_timeout);
  if (!connection.ok()) {
    return Fail(err, ConnectExitCode(connection.status()),
                connection.status().message());
  }
  absl::Status status = connection->client->Release(id);
  if (status.code() == absl::StatusCode::kNotFound) {
    // Released, expired, force-released, or held by a server that lost it:
    // the lease is gone either way, which is what a cleanup step wants.
    return Fail(err, 0,
                absl::StrCat("lease ", id.substr(0, 8),
                             " had already ended (released, expired or "
                             "unknown to the server): nothing to release"));
  }
  if (status.code() == absl::StatusCode::kPermissionDenied) {
    return NotYourLease(err, *connection, status);
  }
  if (!status.ok()) return CallFailure(err, *connection, status);
  out << "released " << id.substr(0, 8) << "\n";
  return 0;
}

int CmdRenew(const CliFlags& flags, std::ostream& out, std::ostream& err) {
  if (flags.positional.size() != 1) {
    return Fail(err, kExitUsage, "usage: portlease renew LEASE_ID [--ttl D]");
  }
  absl::Status valid = CheckLeaseId(flags.positional[0]);
  if (!valid.ok()) return Fail(err, kExitUsage, valid.message());
  absl::StatusOr<Connection> connection = Connect(false, flags.connect_timeout);
  if (!connection.ok()) {
    return Fail(err, ConnectExitCode(connection.status()),
                connection.status().message());
  }
  absl::StatusOr<v1::Lease> lease =
      connection->client->Renew(flags.positional[0], flags.ttl);
  if (lease.status().code() == absl::StatusCode::kPermissionDenied) {
    return NotYourLease(err, *connection, lease.status());
  }
  if (!lease.ok()) return CallFailure(err, *connection, lease.status());
  if (flags.format == OutputFormat::kJson) {
    v1::RenewResponse response;
    *response.mutable_lease() = *std::move(lease);
    out << ToJson(response) << "\n";
  } else {
    out << "renewed " << lease->lease_id_prefix() << " until "
        << FormatTimestamp(lease->expires_at()) << "\n";
  }
  return 0;
}

int RunPortleaseCli(const std::vector<std::string>& args, std::ostream& out,
                    std::ostream& err) {
  absl::StatusOr<CliFlags> flags = ParseCliFlags(args);
  if (!flags.ok()) return Fail(err, kExitUsage, flags.status().message());
  if (flags->help || flags->command.empty() || flags->command == "help") {
    (flags->command.empty() && !flags->help ? err : out) << PortleaseCliUsage();
    return flags->command.empty() && !flags->help ? kExitUsage : 0;
  }
  absl::Status applies = CheckFlagsApply(*flags);
  if (!applies.ok()) return Fail(err, kExitUsage, applies.message());
  const std::string& c = flags->command;
  if (c == "acquire") return CmdAcquire(*flags, out, err);
  if (c == "release") return CmdRelease(*flags, out, err);
  if (c == "renew") return CmdRenew(*flags, out, err);
  if (c == "list") return CmdList(*flags, out, err);
  if (c == "status") return CmdStatus(*flags, out, err);
  if (c == "events") return CmdEvents(*flags, out, err);
  if (c == "who") return CmdWho(*flags, out, err);
  if (c == "preflight") return CmdPreflight(*flags, out, err);
  if (c == "admin") return CmdAdmin(*flags, out, err);
  if (c == "server") return CmdServer(*flags, out, err);
  return Fail(err, kExitUsage,
              absl::StrCat("unknown command \"", c, "\" (see --help)"));
}

}  // namespace portlease
