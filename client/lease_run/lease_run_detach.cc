// lease-run --detach and --release-env-file: a lease held by a detached
// process on behalf of a CTest fixture, and its end.
//
// The holder is forked before any gRPC use (so no threads exist yet), starts
// its own session, writes its output to ENV_FILE.holder.log, and reports
// the acquire result to the waiting parent over a pipe as one line,
// "<exit code> <message>".
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/port/port.h"
#include "portlease/address.h"
#include "portlease/client.h"
#include "portlease/scoped_lease.h"
#include "lease_run/child_process.h"
#include "lease_run/lease_run_modes.h"
#include "lease_run/lease_session.h"
#include "lib/process_watch.h"

namespace portlease {
namespace {

constexpr char kProgram[] = "lease-run";
constexpr absl::Duration kWatchInterval = absl::Milliseconds(200);
constexpr absl::Duration kHolderExitTimeout = absl::Seconds(10);
// Acquire time allowed beyond --wait: starting the embedded default server
// and the acquire retries.
constexpr absl::Duration kReportSlack = absl::Seconds(90);

struct Watched {
  pid_t pid = 0;  // 0: nothing watched
  uint64_t start_time = 0;
  std::string description;
};

absl::StatusOr<Watched> ChooseWatched(const LeaseRunOptions& options) {
  absl::StatusOr<ProcStat> stat;
  if (options.watch_pid != 0) {
    stat = ReadLiveProcess(options.watch_pid);
    if (!stat.ok()) {
      return absl::NotFoundError(
          absl::StrCat("--watch-pid ", options.watch_pid, ": no such process"));
    }
    if (options.watch_start_time != 0 &&
        stat->start_time != options.watch_start_time) {
      return absl::NotFoundError(absl::StrCat(
          "--watch-pid ", options.watch_pid, " started at ", stat->start_time,
          ", not ", options.watch_start_time, " (the pid was reused)"));
    }
  } else if (options.watch_ctest) {
    stat = FindAncestor(getpid(), "ctest");
    if (!stat.ok()) stat = ReadLiveProcess(getppid());
    if (!stat.ok()) return stat.status();
  } else {
    return Watched{};
  }
  return Watched{stat->pid, stat->start_time,
                 absl::StrCat(stat->comm, " (pid ", stat->pid, ")")};
}

struct HolderRecord {
  pid_t pid = 0;
  uint64_t start_time = 0;
};

std::optional<HolderRecord> HolderOf(const Variables& vars) {
  HolderRecord holder;
  bool has_pid = false, has_start = false;
  for (const auto& [key, value] : vars) {
    if (key == kHolderPidVariable) {
      has_pid = absl::SimpleAtoi(value, &holder.pid) && holder.pid > 0;
    } else if (key == kHolderStartVariable) {
      has_start = absl::SimpleAtoi(value, &holder.start_time);
    }
  }
  if (!has_pid || !has_start) return std::nullopt;
  return holder;
}

// Ends `holder` if it still runs as a lease-run (SIGTERM: it releases its
// lease; SIGKILL after kHolderExitTimeout: the server reclaims the lease
// when the Hold stream breaks).
void EndHolder(const HolderRecord& holder, std::ostream& err) {
  absl::StatusOr<ProcStat> stat = ReadLiveProcess(holder.pid);
  if (!stat.ok() || stat->start_time != holder.start_time ||
      stat->comm != kProgram) {
    return;
  }
  kill(holder.pid, SIGTERM);
  const absl::Time deadline = absl::Now() + kHolderExitTimeout;
  while (IsSameProcess(holder.pid, holder.start_time) &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  if (IsSameProcess(holder.pid, holder.start_time)) {
    err << kProgram << ": holder " << holder.pid << " did not exit within "
        << absl::FormatDuration(kHolderExitTimeout) << "; killing it"
        << std::endl;
    kill(holder.pid, SIGKILL);
  }
}

// Removes `path` if it still records `holder` (a later setup may have
// replaced it), or unconditionally when `holder` is null.
void RemoveEnvFile(const std::string& path, const HolderRecord* holder) {
  if (holder != nullptr) {
    absl::StatusOr<Variables> vars = ReadVariablesFile(path);
    if (!vars.ok()) return;
    std::optional<HolderRecord> recorded = HolderOf(*vars);
    if (!recorded.has_value() || recorded->pid != holder->pid ||
        recorded->start_time != holder->start_time) {
      return;
    }
  }
  std::remove(path.c_str());
}

// Sends the one report line to the waiting parent, once.
class Reporter {
 public:
  explicit Reporter(int fd) : fd_(fd) {}
  ~Reporter() { Report(1, "holder exited without a report"); }
  int Report(int code, absl::string_view message) {
    if (fd_ < 0) return code;
    const std::string line = absl::StrCat(code, " ", message, "\n");
    size_t done = 0;
    while (done < line.size()) {
      const ssize_t n = write(fd_, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    close(fd_);
    fd_ = -1;
    return code;
  }

 private:
  int fd_;
};

void RedirectStdio(const std::string& log_path) {
  const int null_fd = open("/dev/null", O_RDWR);
  int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (log_fd < 0) log_fd = null_fd;
  if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
  if (log_fd >= 0) {
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
  }
  if (log_fd > STDERR_FILENO) close(log_fd);
  if (null_fd > STDERR_FILENO && null_fd != log_fd) close(null_fd);
}

// The holder process: acquire, write the env file, report, hold.
int RunHolder(const LeaseRunOptions& options, LeaseSession& session,
              const Watched& watched, const std::string& env_file,
              Reporter& reporter, std::ostream& err) {
  auto report = [&reporter](const Failure& failed) {
    return reporter.Report(failed.exit_code, failed.message);
  };
  if (std::optional<Failure> failed = session.Connect(nullptr)) {
    return report(*failed);
  }
  absl::StatusOr<std::unique_ptr<ScopedLease>> lease =
      session.Acquire(session.NewSpec());
  if (!lease.ok()) return report(session.AcquireFailure(lease.status()));
  absl::StatusOr<ProcStat> self = ReadLiveProcess(getpid());
  if (!self.ok()) return reporter.Report(1, self.status().message());
  const HolderRecord me{self->pid, self->start_time};
  Variables vars;
  if (std::optional<Failure> failed = session.Publish(
          **lease, env_file,
          {{kHolderPidVariable, absl::StrCat(me.pid)},
           {kHolderStartVariable, absl::StrCat(me.start_time)}},
          &vars)) {
    return report(*failed);
  }

  const std::string summary =
      absl::StrCat("lease ", (*lease)->lease().lease_id_prefix(), " (ports ",
                   absl::StrJoin((*lease)->Ports(), " "), ")");
  const std::string until =
      watched.pid != 0 ? absl::StrCat("while ", watched.description, " runs")
                       : std::string("until released");
  err << kProgram << ": holding " << summary << " " << until << "; at most "
      << absl::FormatDuration(options.max_hold) << std::endl;
  reporter.Report(0, absl::StrCat("holding ", summary, " ", until,
                                  "; variables in ", env_file));

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  const absl::Time deadline = absl::Now() + options.max_hold;
  std::string reason;
  while (reason.empty()) {
    const timespec step = absl::ToTimespec(kWatchInterval);
    const int sig = sigtimedwait(&stop_signals, nullptr, &step);
    if (sig > 0) {
      reason = absl::StrCat("signal ", sig);
    } else if (absl::Status status = (*lease)->status(); !status.ok()) {
      reason = std::string(status.message());
    } else if (watched.pid != 0 &&
               !IsSameProcess(watched.pid, watched.start_time)) {
      reason = absl::StrCat(watched.description, " exited");
    } else if (absl::Now() >= deadline) {
      reason = "--max-hold reached";
    }
  }
  err << kProgram << ": releasing " << summary << " (" << reason << ")"
      << std::endl;
  lease->reset();
  RemoveEnvFile(env_file, &me);
  return 0;
}

// Reads the holder's report line; bounded by `timeout`.
int AwaitHolderReport(int fd, absl::Duration timeout, std::ostream& err) {
  std::string report;
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      err << kProgram << ": the holder did not report within "
          << absl::FormatDuration(timeout) << std::endl;
      return 1;
    }
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1,
                           static_cast<int>(absl::ToInt64Milliseconds(
                               left + absl::Milliseconds(1))));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buf[1024];
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    report.append(buf, static_cast<size_t>(n));
  }
  while (!report.empty() && report.back() == '\n') report.pop_back();
  const size_t space = report.find(' ');
  int code = 1;
  if (space == std::string::npos ||
      !absl::SimpleAtoi(report.substr(0, space), &code)) {
    err << kProgram << ": the holder exited without a report" << std::endl;
    return 1;
  }
  err << kProgram << ": " << report.substr(space + 1) << std::endl;
  return code;
}

}  // namespace

absl::StatusOr<bool> ShouldReuseOuterLease(const LeaseRunOptions& options,
                                           const VariableLookup& environment) {
  // PORTLEASE_CTEST_REUSE, when set, decides alone (over REUSE_OUTER, i.e.
  // --reuse-environment), so that one fixture at most reuses.
  const std::string wanted = std::string(absl::StripAsciiWhitespace(
      environment(kCtestReuseVariable).value_or("")));
  if (wanted.empty() || options.ctest_fixture.empty()) {
    return options.reuse_environment;
  }
  const std::string lower = absl::AsciiStrToLower(wanted);
  if (lower == "0" || lower == "off" || lower == "false" || lower == "no") {
    return false;
  }
  if (wanted == options.ctest_fixture) return true;
  std::vector<std::string> fixtures;
  if (!options.ctest_fixtures_file.empty()) {
    std::ifstream in(options.ctest_fixtures_file);
    for (std::string line; std::getline(in, line);) {
      line = std::string(absl::StripAsciiWhitespace(line));
      if (!line.empty()) fixtures.push_back(line);
    }
  }
  const bool truthy =
      lower == "1" || lower == "on" || lower == "true" || lower == "yes";
  if (truthy) {
    if (fixtures.size() == 1 && fixtures.front() == options.ctest_fixture) {
      return true;
    }
    return absl::InvalidArgumentError(absl::StrCat(
        kCtestReuseVariable, "=", wanted, ": this project has the fixtures ",
        absl::StrJoin(fixtures, ", "),
        "; only one may reuse the outer lease: set ", kCtestReuseVariable,
        "=<fixture name>"));
  }
  if (!fixtures.empty() &&
      std::find(fixtures.begin(), fixtures.end(), wanted) == fixtures.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        kCtestReuseVariable, "=", wanted,
        " names no fixture of this project (", absl::StrJoin(fixtures, ", "),
        ")"));
  }
  return false;
}

namespace {

// Reuses the lease an outer lease-run put in the environment, when
// ShouldReuseOuterLease says so and the environment has every variable of
// the request: renders and writes `env_file` from its variables and returns
// the exit code. Nullopt when there is nothing to reuse; INVALID_ARGUMENT
// for a bad PORTLEASE_CTEST_REUSE or derived variable.
absl::StatusOr<std::optional<int>> ReuseOuterLease(
    const LeaseRunOptions& options, const LeaseSession& session,
    const std::string& env_file, std::ostream& err) {
  const VariableLookup environment = ProcessEnvironment();
  absl::StatusOr<bool> reuse = ShouldReuseOuterLease(options, environment);
  if (!reuse.ok()) return reuse.status();
  if (!*reuse) return std::nullopt;
  const PortRequest& request = session.request();
  absl::StatusOr<std::optional<Variables>> reused =
      LeaseVariablesFromEnvironment(
          request.profile.has_value() ? &*request.profile : nullptr,
          request.count, environment,
          [](absl::string_view value) { return ParsePort(value).ok(); });
  if (!reused.ok()) return reused.status();
  if (!reused->has_value()) return std::nullopt;
  const Variables& vars = **reused;
  if (std::optional<Failure> failed =
          session.PublishVariables(vars, env_file, {})) {
    return ReportFailure(*failed, err);
  }
  const std::string lease_id =
      ChainLookup(vars, environment)("PORTLEASE_LEASE_ID").value_or("");
  return ReportFailure(
      {0, absl::StrCat("reusing lease ", lease_id.substr(0, 8),
                       " from the environment; variables in ", env_file)},
      err);
}

}  // namespace

int RunDetached(const LeaseRunOptions& options, std::ostream& err) {
  LeaseSession session(options, err);
  if (std::optional<Failure> failed = session.MakeRequest()) {
    return ReportFailure(*failed, err);
  }
  const std::string env_file = AbsolutePath(options.env_file);

  // An earlier holder of this file (a repeated setup test) goes first.
  if (absl::StatusOr<Variables> earlier = ReadVariablesFile(env_file);
      earlier.ok()) {
    if (std::optional<HolderRecord> holder = HolderOf(*earlier)) {
      EndHolder(*holder, err);
    }
  }
  absl::StatusOr<std::optional<int>> reused =
      ReuseOuterLease(options, session, env_file, err);
  if (!reused.ok()) {
    return ReportFailure(
        {kExitUsage, std::string(reused.status().message())}, err);
  }
  if (reused->has_value()) return **reused;

  absl::StatusOr<Watched> watched = ChooseWatched(options);
  if (!watched.ok()) {
    return ReportFailure({1, std::string(watched.status().message())}, err);
  }

  int report_pipe[2];
  if (pipe2(report_pipe, O_CLOEXEC) != 0) {
    return ReportFailure({1, absl::StrCat("pipe: ", std::strerror(errno))},
                         err);
  }
  const pid_t child = fork();
  if (child < 0) {
    return ReportFailure({1, absl::StrCat("fork: ", std::strerror(errno))},
                         err);
  }
  if (child == 0) {
    close(report_pipe[0]);
    setsid();
    signal(SIGPIPE, SIG_IGN);
    BlockSupervisorSignals();
    RedirectStdio(absl::StrCat(env_file, ".holder.log"));
    int code;
    {
      Reporter reporter(report_pipe[1]);
      code = RunHolder(options, session, *watched, env_file, reporter, err);
    }
    err.flush();
    _exit(code);
  }
  close(report_pipe[1]);
  const int code =
      AwaitHolderReport(report_pipe[0], options.wait + kReportSlack, err);
  close(report_pipe[0]);
  return code;
}

int RunReleaseEnvFile(const std::string& env_file, std::ostream& err) {
  absl::StatusOr<Variables> vars = ReadVariablesFile(env_file);
  if (vars.status().code() == absl::StatusCode::kNotFound) {
    err << kProgram << ": " << env_file << " does not exist; nothing to release"
        << std::endl;
    return 0;
  }
  if (!vars.ok()) {
    err << kProgram << ": " << vars.status().message() << std::endl;
    return 1;
  }
  std::optional<HolderRecord> holder = HolderOf(*vars);
  if (!holder.has_value()) {
    err << kProgram << ": " << env_file
        << " holds a lease reused from the environment; not releasing it"
        << std::endl;
    RemoveEnvFile(env_file, nullptr);
    return 0;
  }
  EndHolder(*holder, err);
  RemoveEnvFile(env_file, &*holder);
  err << kProgram << ": released the lease of " << env_file << std::endl;
  return 0;
}

}  // namespace portlease
