#include "lease_run/lease_session.h"

#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "cli_common/acquire_flow.h"
#include "lease_run/child_process.h"

namespace portlease {
namespace {

constexpr char kProgram[] = "lease-run";

}  // namespace

int ReportFailure(const Failure& failure, std::ostream& err) {
  err << kProgram << ": " << failure.message << std::endl;
  return failure.exit_code;
}

LeaseSession::LeaseSession(const LeaseRunOptions& options, std::ostream& err)
    : options_(options), err_(err), checkout_dir_(CurrentDirectoryOrEmpty()) {}

std::optional<Failure> LeaseSession::MakeRequest() {
  absl::StatusOr<PortRequest> request =
      MakePortRequest(options_.ports, options_.count, options_.profile);
  if (!request.ok()) {
    return Failure{kExitUsage, std::string(request.status().message())};
  }
  request_ = *std::move(request);
  return std::nullopt;
}

std::optional<Failure> LeaseSession::Connect(
    std::shared_ptr<LeaseLossFlag> loss) {
  ResolveOptions resolve;
  resolve.connect_timeout = options_.connect_timeout;
  absl::StatusOr<ResolvedAddress> where = ResolveServerAddress(resolve);
  if (!where.ok()) {
    const absl::StatusCode code = where.status().code();
    // A malformed PORTLEASE_ADDR is a usage error.
    return Failure{code == absl::StatusCode::kFailedPrecondition ? 1
                   : code == absl::StatusCode::kInvalidArgument
                       ? kExitUsage
                       : kExitUnavailable,
                   absl::StrCat("no server: ", where.status().message())};
  }
  ClientOptions client_options;
  client_options.connect_timeout = options_.connect_timeout;
  client_ = std::make_shared<const Client>(where->addresses, client_options);
  where_ = *std::move(where);
  loss_ = std::move(loss);
  return std::nullopt;
}

std::optional<Failure> LeaseSession::OpenForCommand(
    std::shared_ptr<LeaseLossFlag> loss) {
  if (options_.command.empty()) {
    return Failure{kExitUsage, "missing command after --"};
  }
  if (std::optional<Failure> failed = MakeRequest()) return failed;
  return Connect(std::move(loss));
}

AcquireSpec LeaseSession::NewSpec() const {
  return SpecFromRequest(*request_, options_.ttl, options_.udp);
}

absl::StatusOr<std::unique_ptr<ScopedLease>> LeaseSession::Acquire(
    const AcquireSpec& spec) {
  const std::function<absl::StatusOr<std::unique_ptr<ScopedLease>>(
      const AcquireSpec&)>
      acquire = [this](const AcquireSpec& spec) {
        ScopedLeaseOptions lease_options;
        lease_options.spec = spec;
        if (loss_ != nullptr) {
          lease_options.on_lost = [loss = loss_](const absl::Status& status) {
            loss->Set(status);
          };
          lease_options.on_restored = [loss = loss_] { loss->Restore(); };
        }
        return ScopedLease::Acquire(client_, std::move(lease_options));
      };
  return AcquireWithWait(spec, options_.wait, err_, kProgram, acquire);
}

Failure LeaseSession::AcquireFailure(const absl::Status& status) const {
  return Failure{
      AcquireErrorExitCode(status, options_.wait),
      AcquireErrorMessage(status, where_.Describe(), options_.wait)};
}

std::optional<Failure> LeaseSession::Publish(const ScopedLease& lease,
                                             const std::string& env_file,
                                             const Variables& env_file_extra,
                                             Variables* vars) const {
  absl::StatusOr<Variables> made = lease.Environment(
      request_->profile.has_value() ? &*request_->profile : nullptr,
      ProcessEnvironment(), checkout_dir_);
  if (!made.ok()) {
    return Failure{kExitUsage, std::string(made.status().message())};
  }
  *vars = *std::move(made);
  return PublishVariables(*vars, env_file, env_file_extra);
}

std::optional<Failure> LeaseSession::PublishVariables(
    const Variables& vars, const std::string& env_file,
    const Variables& env_file_extra) const {
  const VariableLookup lookup = ChainLookup(vars, ProcessEnvironment());
  for (const std::string& render : options_.renders) {
    absl::Status rendered = RenderTemplateFile(render, lookup);
    if (!rendered.ok()) {
      return Failure{kExitUsage,
                     absl::StrCat("--render: ", rendered.message())};
    }
  }
  if (env_file.empty()) return std::nullopt;
  Variables written_vars = vars;
  written_vars.insert(written_vars.end(), env_file_extra.begin(),
                      env_file_extra.end());
  absl::Status written =
      WriteVariablesFile(env_file, written_vars, /*append=*/false);
  if (!written.ok()) return Failure{1, std::string(written.message())};
  return std::nullopt;
}

int RunUnderLease(const std::vector<std::string>& command,
                  const Variables& vars, absl::Duration kill_grace,
                  const std::function<bool()>& should_stop,
                  std::ostream& err, const std::vector<int>& pass_fds) {
  absl::StatusOr<pid_t> child = SpawnChild(command, vars, pass_fds);
  // The command has its own copies now (or none: it did not start).
  for (int fd : pass_fds) close(fd);
  if (!child.ok()) {
    return ReportFailure(
        Failure{child.status().code() == absl::StatusCode::kNotFound
                    ? kExitNotFound
                    : kExitCannotExecute,
                std::string(child.status().message())},
        err);
  }
  bool stopped = false;
  const int wait_status = SuperviseChild(
      *child,
      [&] {
        const bool stop = should_stop();
        if (stop) stopped = true;
        return stop;
      },
      kill_grace);
  if (stopped) return kExitTempFail;
  return ExitCodeFromWaitStatus(wait_status);
}

std::string CurrentDirectoryOrEmpty() {
  char buf[4096];
  if (getcwd(buf, sizeof(buf)) == nullptr) return "";
  return buf;
}

std::string AbsolutePath(const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  return absl::StrCat(CurrentDirectoryOrEmpty(), "/", path);
}

}  // namespace portlease
