// m2_standin: stand-ins for the M2 example stack's services, for machines
// without a container engine.
//
//   m2_standin worker --config worker.yaml [--ready-file PATH]
//   m2_standin orchestrator --config orchestrator.yaml [--ready-file PATH]
//       [--startup-timeout 5s]
//   m2_standin render TEMPLATE:OUTPUT...
//
// worker/orchestrator serve until SIGTERM or SIGINT, then exit 0 (also when
// the signal arrives while the orchestrator waits for its dependencies). With
// --ready-file they write "name=port" lines of the bound ports to PATH
// (atomically) once serving. `render` expands ${VAR} and ${VAR:-default}
// from the environment, like lease-run's --render.
// Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tests/m2/config_file.h"
#include "tests/m2/orchestrator.h"
#include "tests/m2/socket_io.h"
#include "tests/m2/worker.h"

namespace portlease::m2 {
namespace {

constexpr absl::string_view kUsage =
    "usage: m2_standin worker --config FILE [--ready-file PATH]\n"
    "       m2_standin orchestrator --config FILE [--ready-file PATH] "
    "[--startup-timeout DURATION]\n"
    "       m2_standin render TEMPLATE:OUTPUT...\n";

struct Args {
  std::string command;
  std::string config;
  std::string ready_file;
  absl::Duration startup_timeout = absl::Seconds(5);
  std::vector<std::string> positional;
};

int Fail(int code, absl::string_view command, absl::string_view message) {
  std::fprintf(stderr, "m2_standin %s: %s\n", std::string(command).c_str(),
               std::string(message).c_str());
  return code;
}

// Accepts "--flag VALUE" and "--flag=VALUE".
absl::StatusOr<Args> ParseArgs(int argc, char** argv) {
  Args args;
  if (argc < 2) return absl::InvalidArgumentError("missing command");
  args.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (!absl::StartsWith(arg, "--")) {
      args.positional.push_back(arg);
      continue;
    }
    std::string name = arg, value;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat(arg, " needs a value"));
    }
    if (name == "--config") {
      args.config = value;
    } else if (name == "--ready-file") {
      args.ready_file = value;
    } else if (name == "--startup-timeout") {
      if (!absl::ParseDuration(value, &args.startup_timeout)) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad duration '", value, "'"));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", name));
    }
  }
  return args;
}

// Writes `text` to `path` via a temporary file and rename.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view text) {
  const std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) {
      return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return absl::UnavailableError(absl::StrCat("cannot rename to ", path));
  }
  return absl::OkStatus();
}

// Blocks SIGTERM and SIGINT and returns a signalfd that becomes readable
// when one arrives: the services' stop fd.
absl::StatusOr<Fd> StopSignalFd() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) {
    return absl::InternalError("sigprocmask failed");
  }
  Fd fd(signalfd(-1, &set, SFD_CLOEXEC));
  if (fd.get() < 0) return absl::InternalError("signalfd failed");
  return fd;
}

int RunService(const Args& args) {
  if (args.config.empty()) return Fail(2, args.command, "--config is required");
  absl::StatusOr<Config> config = Config::Load(args.config);
  if (!config.ok()) return Fail(2, args.command, config.status().ToString());
  absl::StatusOr<Fd> stop = StopSignalFd();
  if (!stop.ok()) return Fail(1, args.command, stop.status().ToString());
  const auto ready = [&](absl::string_view ports) {
    std::fprintf(stderr, "m2_standin %s: serving on 127.0.0.1: %s",
                 args.command.c_str(), std::string(ports).c_str());
    if (args.ready_file.empty()) return;
    if (absl::Status st = WriteFileAtomically(args.ready_file, ports);
        !st.ok()) {
      Fail(1, args.command, st.ToString());
    }
  };
  absl::Status status;
  if (args.command == "worker") {
    absl::StatusOr<WorkerOptions> options = WorkerOptionsFromConfig(*config);
    if (!options.ok())
      return Fail(2, args.command, options.status().ToString());
    status = RunWorker(*options, stop->get(), [&](uint16_t port) {
      ready(absl::StrCat("grpc_port=", port, "\n"));
    });
  } else {
    absl::StatusOr<OrchestratorOptions> options =
        OrchestratorOptionsFromConfig(*config);
    if (!options.ok())
      return Fail(2, args.command, options.status().ToString());
    options->startup_timeout = args.startup_timeout;
    status = RunOrchestrator(
        *options, stop->get(), [&](const OrchestratorPorts& ports) {
          ready(absl::StrCat("ws_port=", ports.ws,
                             "\nhealth_port=", ports.health,
                             "\nmetrics_port=", ports.metrics, "\n"));
        });
  }
  if (absl::IsCancelled(status)) {
    // SIGTERM before the orchestrator was serving: a clean stop too.
    std::fprintf(stderr, "m2_standin %s: stopped during startup\n",
                 args.command.c_str());
    return 0;
  }
  if (!status.ok()) return Fail(1, args.command, status.ToString());
  std::fprintf(stderr, "m2_standin %s: stopped\n", args.command.c_str());
  return 0;
}

int Render(const Args& args) {
  if (args.positional.empty()) return Fail(2, "render", "no TEMPLATE:OUTPUT");
  const Lookup environment =
      [](absl::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
  for (const std::string& pair : args.positional) {
    const size_t colon = pair.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == pair.size()) {
      return Fail(2, "render",
                  absl::StrCat("expected TEMPLATE:OUTPUT, got '", pair, "'"));
    }
    const std::string input = pair.substr(0, colon);
    std::ifstream in(input, std::ios::binary);
    if (!in) return Fail(2, "render", absl::StrCat("cannot read ", input));
    std::ostringstream text;
    text << in.rdbuf();
    absl::StatusOr<std::string> out =
        RenderTemplate(text.str(), environment, input);
    if (!out.ok()) return Fail(2, "render", out.status().message());
    if (absl::Status st = WriteFileAtomically(pair.substr(colon + 1), *out);
        !st.ok()) {
      return Fail(1, "render", st.message());
    }
  }
  return 0;
}

int Main(int argc, char** argv) {
  absl::StatusOr<Args> args = ParseArgs(argc, argv);
  if (!args.ok()) {
    std::fprintf(stderr, "m2_standin: %s\n%s",
                 std::string(args.status().message()).c_str(), kUsage.data());
    return 2;
  }
  if (args->command == "worker" || args->command == "orchestrator") {
    return RunService(*args);
  }
  if (args->command == "render") return Render(*args);
  std::fprintf(stderr, "m2_standin: unknown command '%s'\n%s",
               args->command.c_str(), kUsage.data());
  return 2;
}

}  // namespace
}  // namespace portlease::m2

int main(int argc, char** argv) { return portlease::m2::Main(argc, argv); }
