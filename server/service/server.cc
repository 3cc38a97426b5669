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
#include "grpcpp/support/server_interceptor.h"
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

std::shared_ptr<grpc::ServerCredentials> TcpCredentials(
    const ServerOptions::Tls& tls) {
  if (tls.cert_chain.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl(
      tls.client_ca.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = tls.client_ca;
  ssl.pem_key_cert_pairs.push_back({tls.private_key, tls.cert_chain});
  return grpc::SslServerCredentials(ssl);
}

// Reports each call to an IdleTracker: gRPC creates the interceptor when
// the call arrives and destroys it when the call is done.
class CallInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit CallInterceptor(IdleTracker* tracker) : tracker_(tracker) {
    tracker_->CallStarted();
  }
  ~CallInterceptor() override { tracker_->CallEnded(); }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    methods->Proceed();
  }

 private:
  IdleTracker* const tracker_;
};

class CallInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallInterceptorFactory(IdleTracker* tracker) : tracker_(tracker) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new CallInterceptor(tracker_);
  }

 private:
  IdleTracker* const tracker_;
};

// The listen addresses of `options`, each parsed and checked: INVALID_ARGUMENT
// for a malformed or insecure address, NOT_FOUND for a Unix socket whose
// directory does not exist.
absl::StatusOr<std::vector<ListenAddress>> ParseListenAddresses(
    const ServerOptions& options) {
  std::vector<ListenAddress> addresses;
  for (const std::string& text : options.listen) {
    absl::StatusOr<ListenAddress> address = ParseListenAddress(text);
    if (!address.ok()) return address.status();
    absl::Status exposure = CheckTransportSecurity(
        *address, !options.tls.cert_chain.empty(), options.allow_insecure_tcp);
    if (!exposure.ok()) return exposure;
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
  return addresses;
}

// Sets the channel arguments, the TCP listening ports (each selected port
// lands in (*selected)[i], 0 until bound) and the idle tracker's interceptor.
void ConfigureBuilder(const ServerOptions& options,
                      const std::vector<ListenAddress>& addresses,
                      grpc::ServerBuilder* builder,
                      std::vector<int>* selected) {
  // A silent second bind of the same port would hide a conflict.
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Clients of several replicas ping twice a second while a call or a Hold
  // stream is open, to find a stopped server (client/lib/channel.h).
  // gRPC's default would answer pings that frequent with GOAWAY.
  builder->AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 250);
  builder->SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  if (options.max_streams > 0) {
    builder->AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                                static_cast<int>(options.max_streams));
  }
  const std::shared_ptr<grpc::ServerCredentials> tcp_credentials =
      TcpCredentials(options.tls);
  for (size_t i = 0; i < addresses.size(); ++i) {
    if (!addresses[i].is_tcp()) continue;
    builder->AddListeningPort(addresses[i].ToString(), tcp_credentials,
                              &(*selected)[i]);
  }
  if (options.idle_tracker != nullptr) {
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(
        std::make_unique<CallInterceptorFactory>(options.idle_tracker));
    builder->experimental().SetInterceptorCreators(std::move(interceptors));
  }
}

// The listen address a failed BuildAndStart could not bind: ports are bound
// in order, so the first TCP address without a selected port.
std::string FirstUnbound(const std::vector<std::string>& listen,
                         const std::vector<ListenAddress>& addresses,
                         const std::vector<int>& selected) {
  for (size_t i = 0; i < addresses.size(); ++i) {
    if (addresses[i].is_tcp() && selected[i] == 0) return listen[i];
  }
  return listen.front();
}

}  // namespace

absl::Status CheckTransportSecurity(const ListenAddress& address, bool tls,
                                    bool allow_insecure_tcp) {
  if (!address.is_tcp() || IsLoopbackHost(address.host) || tls ||
      allow_insecure_tcp) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "refusing to listen on ", address.ToString(),
      ": not a loopback address and no TLS; configure --tls-cert and "
      "--tls-key (and --tls-client-ca for client certificates), use "
      "127.0.0.1 or a unix: socket, or pass --insecure-tcp"));
}

RunningServer::RunningServer(ServerOptions options)
    : rate_limiter_(std::make_unique<RateLimiter>(options.rate_limit,
                                                  options.service.clock)),
      service_([&] {
        options.service.peers = &peers_;
        options.service.rate_limiter = rate_limiter_.get();
        return std::make_unique<PortLeaseService>(options.service);
      }()) {}

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
  // No new connections, then no new calls.
  for (auto& listener : unix_listeners_) listener->Stop();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  ticker_.reset();
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
  absl::StatusOr<std::vector<ListenAddress>> parsed =
      ParseListenAddresses(options);
  if (!parsed.ok()) return parsed.status();
  const std::vector<ListenAddress> addresses = *std::move(parsed);

  InitGrpcPlugins();
  LeaseBackend* const manager = options.service.manager;
  const std::vector<std::string> listen = options.listen;
  std::unique_ptr<RunningServer> running(new RunningServer(options));
  // Unix sockets first: ours, so that callers' credentials are known.
  for (size_t i = 0; i < addresses.size(); ++i) {
    if (addresses[i].is_tcp()) continue;
    UnixCredentialsListener::Options unix_options;
    unix_options.path = addresses[i].path;
    unix_options.mode = options.unix_socket_mode;
    unix_options.group = options.unix_socket_group;
    unix_options.max_connections = options.max_connections;
    absl::StatusOr<std::unique_ptr<UnixCredentialsListener>> listener =
        UnixCredentialsListener::Listen(unix_options, &running->peers_);
    if (!listener.ok()) return listener.status();
    running->unix_listeners_.push_back(*std::move(listener));
  }
  grpc::ServerBuilder builder;
  std::vector<int> selected(addresses.size(), 0);
  ConfigureBuilder(options, addresses, &builder, &selected);
  builder.RegisterService(running->service_.get());
  running->server_ = builder.BuildAndStart();
  if (running->server_ == nullptr) {
    const std::string failed = FirstUnbound(listen, addresses, selected);
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", failed,
                     ": address in use, not permitted, or unknown host"));
  }
  for (size_t i = 0; i < addresses.size(); ++i) {
    ListenAddress bound = addresses[i];
    if (bound.is_tcp()) bound.port = static_cast<uint16_t>(selected[i]);
    running->addresses_.push_back(bound.ToString());
  }
  for (auto& listener : running->unix_listeners_) {
    listener->Start(running->server_.get());
  }
  running->ticker_ = std::make_unique<Ticker>(options.tick_interval,
                                              [manager] { manager->Tick(); });
  return running;
}

}  // namespace portlease
