// portlease server status|stop: the private per-user portleased that
// lease-run and portlease start on first use (lib/embedded_server.h).
// Only that server: never the one PORTLEASE_ADDR names, nor the system one.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/conventions/exit_codes.h"
#include "portlease/lease_env.h"
#include "cli/cli_internal.h"
#include "lib/embedded_server.h"

namespace portlease {
namespace {

constexpr absl::Duration kStatusTimeout = absl::Seconds(2);
constexpr absl::Duration kDefaultStopWait = absl::Seconds(10);
constexpr absl::Duration kPollStep = absl::Milliseconds(50);

int Fail(std::ostream& err, int code, absl::string_view message) {
  err << "portlease: " << message << std::endl;
  return code;
}

// What is known about the private server.
struct PrivateServer {
  EmbeddedPaths paths;
  std::string config;  // where its flags come from, or "none"
  // The recorded process, when it runs.
  std::optional<EmbeddedPid> process;
  // A pid file exists but names no running server.
  bool stale_pid_file = false;
  // Its answer to Status (also when no pid file names it).
  absl::StatusOr<v1::StatusResponse> answer =
      absl::UnavailableError("not asked");

  bool answers() const { return answer.ok(); }
};

PrivateServer Inspect() {
  const VariableLookup env = ProcessEnvironment();
  PrivateServer server;
  server.paths = EmbeddedServerPaths(env, getuid());
  absl::StatusOr<EmbeddedServerArgs> args =
      LoadEmbeddedServerArgs(env, server.paths);
  server.config = !args.ok()                ? std::string(args.status().message())
                  : args->source.empty()    ? "none"
                                            : args->source;
  absl::StatusOr<EmbeddedPid> recorded =
      ReadEmbeddedPidFile(server.paths.pid_file);
  if (recorded.ok() && IsEmbeddedServerProcess(*recorded)) {
    server.process = *recorded;
  } else if (recorded.status().code() != absl::StatusCode::kNotFound) {
    server.stale_pid_file = true;
  }
  if (access(server.paths.socket.c_str(), F_OK) == 0) {
    ClientOptions options;
    options.rpc_timeout = kStatusTimeout;
    Client client(server.paths.address(), options);
    server.answer = client.Status(kStatusTimeout);
  } else {
    server.answer = absl::UnavailableError(
        absl::StrCat("no socket at ", server.paths.socket));
  }
  return server;
}

int CmdServerStatus(const CliFlags& flags, std::ostream& out,
                    std::ostream& err) {
  const PrivateServer server = Inspect();
  const bool running = server.process.has_value() || server.answers();
  if (flags.format == OutputFormat::kJson) {
    // Every key always: null where the value is unknown (no recorded
    // process, or no answer).
    const bool answers = server.answers();
    out << "{\"running\": " << (running ? "true" : "false") << ", \"pid\": "
        << (server.process ? absl::StrCat(server.process->pid) : "null")
        << ", \"socket\": " << JsonString(server.paths.socket)
        << ", \"database\": " << JsonString(server.paths.database)
        << ", \"log\": " << JsonString(server.paths.log_file)
        << ", \"config\": " << JsonString(server.config)
        << ", \"version\": "
        << (answers ? JsonString(server.answer->version()) : "null")
        << ", \"live_leases\": "
        << (answers ? absl::StrCat(server.answer->live_leases()) : "null")
        << ", \"pool_size\": "
        << (answers ? absl::StrCat(server.answer->pool_size()) : "null")
        << "}\n";
  } else {
    std::string state = "not running";
    if (server.process.has_value() && server.answers()) {
      state = "running";
    } else if (server.process.has_value()) {
      state = absl::StrCat("running, but does not answer: ",
                           server.answer.status().message());
    } else if (server.answers()) {
      state = absl::StrCat("answers, but no pid file names it (",
                           server.paths.pid_file, ")");
    } else if (server.stale_pid_file) {
      state = "not running (the pid file is stale)";
    }
    out << "private server: " << state << "\n";
    if (server.process) out << "pid:            " << server.process->pid << "\n";
    out << "socket:         " << server.paths.socket << "\n"
        << "database:       " << server.paths.database << "\n"
        << "log:            " << server.paths.log_file << "\n"
        << "flags from:     " << server.config << "\n";
    if (server.answers()) {
      out << "version:        " << server.answer->version() << "\n"
          << "live leases:    " << server.answer->live_leases() << "\n"
          << "pool size:      " << server.answer->pool_size() << "\n";
    }
    if (running) out << "stop it with:   portlease server stop\n";
  }
  if (!running) return kExitNotRunning;
  return server.process.has_value() && server.answers() ? 0 : kExitFailed;
}

int CmdServerStop(const CliFlags& flags, std::ostream& out,
                  std::ostream& err) {
  const PrivateServer server = Inspect();
  if (!server.process.has_value()) {
    if (server.answers()) {
      return Fail(err, kExitFailed,
                  absl::StrCat("a server answers at ", server.paths.socket,
                               " but no pid file names it (",
                               server.paths.pid_file,
                               "): not stopping a process it cannot identify"));
    }
    if (server.stale_pid_file) unlink(server.paths.pid_file.c_str());
    out << "no private server runs (socket " << server.paths.socket << ")\n";
    return 0;
  }
  const EmbeddedPid process = *server.process;
  if (!flags.force) {
    if (!server.answers()) {
      return Fail(err, kExitFailed,
                  absl::StrCat("the private portleased (pid ", process.pid,
                               ") does not answer (",
                               server.answer.status().message(),
                               "), so its leases are unknown; "
                               "`portlease server stop --force` stops it "
                               "anyway"));
    }
    if (const uint32_t live = server.answer->live_leases(); live > 0) {
      return Fail(err, kExitLeasesLive,
                  absl::StrCat("not stopping the private portleased (pid ",
                               process.pid, "): ", live,
                               " live lease(s) (`portlease list` shows them); "
                               "`portlease server stop --force` stops it "
                               "anyway and their holders lose the server"));
    }
  }
  // Checked again right before the signal: never a reused pid.
  if (!IsEmbeddedServerProcess(process)) {
    unlink(server.paths.pid_file.c_str());
    out << "the private portleased (pid " << process.pid
        << ") has exited already\n";
    return 0;
  }
  if (kill(process.pid, SIGTERM) != 0) {
    return Fail(err, kExitFailed,
                absl::StrCat("cannot signal pid ", process.pid, ": ",
                             std::strerror(errno)));
  }
  const absl::Duration wait =
      flags.wait > absl::ZeroDuration() ? flags.wait : kDefaultStopWait;
  const absl::Time deadline = absl::Now() + wait;
  while (IsEmbeddedServerProcess(process)) {
    if (absl::Now() >= deadline) {
      return Fail(err, kExitFailed,
                  absl::StrCat("the private portleased (pid ", process.pid,
                               ") did not exit within ",
                               absl::FormatDuration(wait), "; see ",
                               server.paths.log_file));
    }
    absl::SleepFor(kPollStep);
  }
  unlink(server.paths.pid_file.c_str());
  out << "stopped the private portleased (pid " << process.pid << ")";
  if (flags.force && server.answers() && server.answer->live_leases() > 0) {
    out << " with " << server.answer->live_leases() << " live lease(s)";
  }
  out << "\n";
  return 0;
}

}  // namespace

int CmdServer(const CliFlags& flags, std::ostream& out, std::ostream& err) {
  const std::string sub = flags.positional.empty() ? "" : flags.positional[0];
  if (flags.positional.size() != 1 || (sub != "status" && sub != "stop")) {
    return Fail(err, kExitUsage,
                "usage: portlease server status [--format=json] | "
                "portlease server stop [--force] [--wait DURATION]");
  }
  if (sub == "status") return CmdServerStatus(flags, out, err);
  return CmdServerStop(flags, out, err);
}

}  // namespace portlease
