// TLS and mutual TLS on TCP listeners, with a throwaway self-signed
// certificate made by the openssl command at test time.
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "portlease/v1/portlease.grpc.pb.h"
#include "tests/server/test_util.h"

namespace portlease {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

struct Pem {
  std::string cert;
  std::string key;
};

// A self-signed certificate for 127.0.0.1 and localhost, valid one day.
Pem MakeCertificate(const TempDir& dir, const std::string& name) {
  const std::string cert = dir.File(name + ".pem");
  const std::string key = dir.File(name + ".key");
  const std::string command = absl::StrCat(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=", name,
      " -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout ", key,
      " -out ", cert, " >/dev/null 2>&1");
  if (std::system(command.c_str()) != 0) return {};
  return {ReadFile(cert), ReadFile(key)};
}

grpc::Status CallStatus(std::shared_ptr<grpc::ChannelCredentials> creds,
                        const std::string& address) {
  auto stub =
      v1::PortLease::NewStub(grpc::CreateChannel(address, std::move(creds)));
  grpc::ClientContext context;
  SetDeadline(&context, absl::Seconds(5));
  v1::StatusResponse response;
  return stub->Status(&context, v1::StatusRequest(), &response);
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("openssl version >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "no openssl command";
    }
    server_pem_ = MakeCertificate(dir_, "server");
    client_pem_ = MakeCertificate(dir_, "client");
    ASSERT_FALSE(server_pem_.cert.empty());
    ASSERT_FALSE(client_pem_.cert.empty());
  }
  std::shared_ptr<grpc::ChannelCredentials> Tls(bool with_client_cert) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = server_pem_.cert;
    if (with_client_cert) {
      options.pem_cert_chain = client_pem_.cert;
      options.pem_private_key = client_pem_.key;
    }
    return grpc::SslCredentials(options);
  }

  TempDir dir_;
  Pem server_pem_;
  Pem client_pem_;
};

TEST_F(TlsTest, TcpListenerServesTlsOnly) {
  TestServer::Options options;
  options.transport = Transport::kTcp;
  options.configure_server = [this](ServerOptions* o) {
    o->tls.cert_chain = server_pem_.cert;
    o->tls.private_key = server_pem_.key;
  };
  TestServer server(options);
  EXPECT_TRUE(CallStatus(Tls(false), server.address()).ok());
  EXPECT_FALSE(
      CallStatus(grpc::InsecureChannelCredentials(), server.address()).ok());
}

TEST_F(TlsTest, MutualTlsNeedsAClientCertificateFromTheCa) {
  TestServer::Options options;
  options.transport = Transport::kTcp;
  options.configure_server = [this](ServerOptions* o) {
    o->tls.cert_chain = server_pem_.cert;
    o->tls.private_key = server_pem_.key;
    o->tls.client_ca = client_pem_.cert;
  };
  TestServer server(options);
  EXPECT_TRUE(CallStatus(Tls(true), server.address()).ok());
  EXPECT_FALSE(CallStatus(Tls(false), server.address()).ok());
}

}  // namespace
}  // namespace portlease
