#include "server/service/server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "server/service/convert.h"

namespace portlease {
namespace {

// Process-wide gRPC settings, applied before the first server is built.
void InitGrpcPlugins() {
  static std::once_flag once;
  std::call_once(once, [] {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  });
}

std::string ParentDirectory(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

RunningServer::RunningServer(const ServerOptions& options)
    : service_(std::make_unique<PortLeaseService>(options.service)) {}

RunningServer::~RunningServer() { Shutdown(absl::ZeroDuration()); }

void RunningServer::Shutdown(absl::Duration grace) {
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) {
      mu_.Await(absl::Condition(&shut_down_));
      return;
    }
    shutting_down_ = true;
  }
  if (server_ == nullptr) {  // never started
    absl::MutexLock lock(&mu_);
    shut_down_ = true;
    return;
  }
  if (grpc::HealthCheckServiceInterface* health =
          server_->GetHealthCheckService()) {
    health->Shutdown();
  }
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  ticker_.reset();
  for (const std::string& path : unix_paths_) unlink(path.c_str());
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
}

void RunningServer::Wait() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&shut_down_));
}

absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(
    ServerOptions options) {
  if (options.service.manager == nullptr || options.service.clock == nullptr) {
    return absl::InvalidArgumentError("StartServer: manager and clock needed");
  }
  if (options.listen.empty()) {
    return absl::InvalidArgumentError("no listen address");
  }
  std::vector<ListenAddress> addresses;
  for (const std::string& text : options.listen) {
    absl::StatusOr<ListenAddress> address = ParseListenAddress(text);
    if (!address.ok()) return address.status();
    if (!address->is_tcp()) {
      const std::string dir = ParentDirectory(address->path);
      struct stat st;
      if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        return absl::NotFoundError(absl::StrCat(
            "cannot listen on ", text, ": directory ", dir, " does not exist"));
      }
    }
    addresses.push_back(*std::move(address));
  }

  InitGrpcPlugins();
  std::unique_ptr<RunningServer> running(new RunningServer(options));
  grpc::ServerBuilder builder;
  // A silent second bind of the same port would hide a conflict.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  std::vector<int> selected(addresses.size(), 0);
  for (size_t i = 0; i < addresses.size(); ++i) {
    builder.AddListeningPort(addresses[i].ToString(),
                             grpc::InsecureServerCredentials(), &selected[i]);
  }
  builder.RegisterService(running->service_.get());
  running->server_ = builder.BuildAndStart();
  if (running->server_ == nullptr) {
    // Ports are bound in order; the first without a selected port failed.
    std::string failed = options.listen.front();
    for (size_t i = 0; i < addresses.size(); ++i) {
      if (selected[i] == 0) {
        failed = options.listen[i];
        break;
      }
    }
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", failed,
                     ": address in use, not permitted, or unknown host"));
  }
  for (size_t i = 0; i < addresses.size(); ++i) {
    ListenAddress bound = addresses[i];
    if (bound.is_tcp()) {
      bound.port = static_cast<uint16_t>(selected[i]);
    } else {
      running->unix_paths_.push_back(bound.path);
      if (chmod(bound.path.c_str(), options.unix_socket_mode) != 0) {
        const int error = errno;
        running->Shutdown(absl::ZeroDuration());
        return absl::UnavailableError(
            absl::StrCat("cannot set the mode of socket ", bound.path, ": ",
                         std::strerror(error)));
      }
    }
    running->addresses_.push_back(bound.ToString());
  }
  LeaseManager* manager = options.service.manager;
  running->ticker_ = std::make_unique<Ticker>(options.tick_interval,
                                              [manager] { manager->Tick(); });
  return running;
}

}  // namespace portlease
