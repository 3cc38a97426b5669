#include "server/etcd/endpoints.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/system/files.h"
#include "grpc/grpc.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace portlease::etcd::internal {
namespace {

// The PEM contents of `path`, or "" for an empty path.
absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view what) {
  if (path.empty()) return std::string();
  absl::StatusOr<std::string> pem = ReadFile(path);
  if (!pem.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd ", what, " file ", path, ": ", pem.status().message()));
  }
  return pem;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsCredentials(
    const EtcdOptions& options) {
  grpc::SslCredentialsOptions ssl;
  absl::StatusOr<std::string> ca = ReadPem(options.ca_file, "CA");
  if (!ca.ok()) return ca.status();
  absl::StatusOr<std::string> cert = ReadPem(options.cert_file, "certificate");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPem(options.key_file, "key");
  if (!key.ok()) return key.status();
  if (cert->empty() != key->empty()) {
    return absl::InvalidArgumentError(
        "etcd TLS: a client certificate needs its key and a key its certificate");
  }
  ssl.pem_root_certs = *std::move(ca);
  ssl.pem_cert_chain = *std::move(cert);
  ssl.pem_private_key = *std::move(key);
  return grpc::SslCredentials(ssl);
}

// Reconnects quickly to a restarted member, and notices a stopped one on a
// long stream (a watch): a keepalive ping every keepalive_time while a call
// is open, answered within call_timeout. etcd refuses pings more often than
// its --grpc-keepalive-min-time (5 s by default).
grpc::ChannelArguments ChannelArgs(const EtcdOptions& options) {
  grpc::ChannelArguments args;
  // Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: it is also the connect timeout,
  // which a TLS handshake on a slow network must not run into.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options.keepalive_time)));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options.call_timeout)));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Large ranges: etcd answers up to its --max-request-bytes and more.
  args.SetMaxReceiveMessageSize(-1);
  return args;
}

}  // namespace

absl::StatusOr<std::shared_ptr<Endpoints>> Endpoints::Make(const EtcdOptions& options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError("etcd: no endpoint given");
  }
  if (options.call_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("etcd: call_timeout must be positive");
  }
  if (options.keepalive_time < absl::Seconds(1)) {
    return absl::InvalidArgumentError("etcd: keepalive_time must be at least 1 s");
  }
  bool tls = !options.ca_file.empty() || !options.cert_file.empty() ||
             !options.key_file.empty();
  for (const std::string& url : options.endpoints) {
    tls = tls || absl::StartsWith(url, "https://");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (tls) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ssl = TlsCredentials(options);
    if (!ssl.ok()) return ssl.status();
    credentials = *std::move(ssl);
  }
  std::shared_ptr<Endpoints> result(new Endpoints());
  result->call_timeout_ = options.call_timeout;
  result->watch_retry_delay_ = options.watch_retry_delay;
  for (const std::string& url : options.endpoints) {
    absl::string_view target = url;
    if (!absl::ConsumePrefix(&target, "http://")) absl::ConsumePrefix(&target, "https://");
    if (target.empty() || absl::StrContains(target, "/") || !absl::StrContains(target, ":")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "etcd endpoint '", url, "': expected http://host:port, https://host:port or host:port"));
    }
    Endpoint e;
    e.url = url;
    e.channel = grpc::CreateCustomChannel(std::string(target), credentials, ChannelArgs(options));
    e.kv = etcdserverpb::KV::NewStub(e.channel);
    e.lease = etcdserverpb::Lease::NewStub(e.channel);
    e.watch = etcdserverpb::Watch::NewStub(e.channel);
    result->endpoints_.push_back(std::move(e));
  }
  return result;
}

std::string Endpoints::List() const {
  return absl::StrJoin(endpoints_, ", ", [](std::string* out, const Endpoint& e) {
    out->append(e.url);
  });
}

size_t Endpoints::Pick() {
  absl::MutexLock lock(&mu_);
  for (size_t step = 0; step < endpoints_.size(); ++step) {
    size_t i = (preferred_ + step) % endpoints_.size();
    if (endpoints_[i].channel->GetState(false) != GRPC_CHANNEL_TRANSIENT_FAILURE) {
      preferred_ = i;
      return i;
    }
  }
  return preferred_;
}

void Endpoints::MarkFailed(size_t i) {
  absl::MutexLock lock(&mu_);
  if (preferred_ == i) preferred_ = (i + 1) % endpoints_.size();
}

}  // namespace portlease::etcd::internal
