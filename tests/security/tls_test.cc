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

// Over mutual TLS the caller is its certificate: a second certificate from
// the same CA is another caller, whatever it knows of the first one's lease.
TEST_F(TlsTest, MutualTlsCallersAreTheirCertificates) {
  const Pem other_pem = MakeCertificate(dir_, "runner-b");
  ASSERT_FALSE(other_pem.cert.empty());
  TestServer::Options options;
  options.transport = Transport::kTcp;
  options.configure_server = [&](ServerOptions* o) {
    o->tls.cert_chain = server_pem_.cert;
    o->tls.private_key = server_pem_.key;
    o->tls.client_ca = client_pem_.cert + other_pem.cert;
  };
  TestServer server(options);
  auto stub_for = [&](const Pem& pem) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = server_pem_.cert;
    tls.pem_cert_chain = pem.cert;
    tls.pem_private_key = pem.key;
    return v1::PortLease::NewStub(
        grpc::CreateChannel(server.address(), grpc::SslCredentials(tls)));
  };
  auto client = stub_for(client_pem_);  // CN=client
  auto other = stub_for(other_pem);     // CN=runner-b

  v1::AcquireRequest acquire;
  acquire.set_count(1);
  acquire.set_request_id("job-7");
  v1::AcquireResponse mine;
  {
    grpc::ClientContext context;
    SetDeadline(&context, absl::Seconds(5));
    ASSERT_TRUE(client->Acquire(&context, acquire, &mine).ok());
  }
  // The other certificate replays the request id: a new lease of its own.
  v1::AcquireResponse theirs;
  {
    grpc::ClientContext context;
    SetDeadline(&context, absl::Seconds(5));
    ASSERT_TRUE(other->Acquire(&context, acquire, &theirs).ok());
  }
  EXPECT_NE(theirs.lease().lease_id(), mine.lease().lease_id());
  EXPECT_NE(theirs.lease().base_port(), mine.lease().base_port());
  // ... and may neither renew nor release the first one's lease.
  {
    grpc::ClientContext context;
    SetDeadline(&context, absl::Seconds(5));
    v1::RenewRequest renew;
    renew.set_lease_id(mine.lease().lease_id());
    v1::RenewResponse response;
    grpc::Status status = other->Renew(&context, renew, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << status.error_message();
    EXPECT_THAT(status.error_message(), ::testing::HasSubstr("x509:client"));
  }
  {
    grpc::ClientContext context;
    SetDeadline(&context, absl::Seconds(5));
    v1::ReleaseRequest release;
    release.set_lease_id(mine.lease().lease_id());
    v1::ReleaseResponse response;
    EXPECT_EQ(other->Release(&context, release, &response).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  // The audit trail names each caller by its certificate.
  {
    grpc::ClientContext context;
    SetDeadline(&context, absl::Seconds(5));
    v1::EventsResponse events;
    ASSERT_TRUE(client->Events(&context, v1::EventsRequest(), &events).ok());
    ASSERT_EQ(events.events_size(), 2);
    EXPECT_EQ(events.events(0).by(), "x509:client");
    EXPECT_EQ(events.events(1).by(), "x509:runner-b");
  }
}

}  // namespace
}  // namespace portlease
