// EtcdCluster: real etcd members (1 or 3) as child processes on loopback,
// for the tests of server/etcd/ and the stores built on it.
//
//   if (!EtcdCluster::Installed()) GTEST_SKIP() << EtcdCluster::NotInstalledMessage();
//   absl::StatusOr<std::unique_ptr<EtcdCluster>> cluster = EtcdCluster::Start(3);
//   options.endpoints = (*cluster)->endpoints();
//   (*cluster)->Kill(0);  (*cluster)->Restart(0);
//
// Each member's client, peer and health (plain HTTP /health) ports come
// from a LeasedPorts of the suite (test_ports.h): the tests need the
// fixture portlease_test_server. With Security::kTls the client port
// speaks TLS with client certificates (certificates made by openssl in the
// cluster's directory: ca_file() and the client's pair). Data
// directories live in a TempDir; the members run with short heartbeat and
// election timeouts (50 ms, 500 ms) so that a lost leader is replaced
// within a second, and accept keepalive pings every second. A member's output goes to <dir>/m<i>.log, whose tail is
// in the error when it fails to start.
//
// The binary is $PORTLEASE_ETCD_BIN, else /usr/bin/etcd (Debian's
// etcd-server). Not thread-safe: one test thread drives it. The
// destructor kills (SIGKILL) its own members, reaps them and removes the
// data; members also die with the test process (PR_SET_PDEATHSIG).
#ifndef PORTLEASE_TESTS_SUPPORT_ETCD_CLUSTER_H_
#define PORTLEASE_TESTS_SUPPORT_ETCD_CLUSTER_H_

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "testing/temp_dir.h"
#include "tests/support/test_ports.h"

namespace portlease::testing {

class EtcdCluster {
 public:
  // The etcd binary exists and is executable.
  static bool Installed();
  static std::string NotInstalledMessage();

  enum class Security { kPlain, kTls };

  // Starts `members` members as one new cluster and waits, at most
  // Scaled(30 s), until each reports itself healthy. The error names the
  // member that failed and ends with its log.
  static absl::StatusOr<std::unique_ptr<EtcdCluster>> Start(
      size_t members, Security security = Security::kPlain);
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  size_t size() const { return members_.size(); }
  // "http://127.0.0.1:<client port>" (https with kTls) of every member, or
  // of member i.
  std::vector<std::string> endpoints() const;
  std::string endpoint(size_t i) const;
  // The pids of the running members (for measuring their CPU time).
  std::vector<pid_t> pids() const;
  // PEM files of the CA and of a certificate the members accept from a
  // client; empty without kTls.
  std::string ca_file() const;
  std::string client_cert_file() const;
  std::string client_key_file() const;

  // SIGKILL, then reaped. FAILED_PRECONDITION if it is not running.
  absl::Status Kill(size_t i);
  // SIGSTOP / SIGCONT: the member keeps its sockets but stops answering.
  // Stop returns once every thread of the member is stopped.
  absl::Status Stop(size_t i);
  absl::Status Cont(size_t i);
  // Starts a killed member again with its data directory and ports
  // (--initial-cluster-state existing) and waits until it is healthy.
  absl::Status Restart(size_t i);
  // Starts every killed member again (all at once: a member alone has no
  // quorum to be healthy with) and waits until each is healthy.
  absl::Status RestartAll();
  // Member i answers GET /health with "health":"true" (it has a leader and
  // can read) within `timeout` (times the suite's factor).
  absl::Status WaitHealthy(size_t i, absl::Duration timeout);

 private:
  struct Member {
    std::string name;
    std::string data_dir;
    std::string log_file;
    uint16_t client_port = 0;
    uint16_t peer_port = 0;
    uint16_t health_port = 0;  // --listen-metrics-urls: plain /health
    pid_t pid = -1;  // -1: not running
  };

  explicit EtcdCluster(LeasedPorts ports);
  absl::Status Spawn(size_t i, bool existing);
  // The member exited: its status and log tail as an error.
  absl::Status ExitedError(size_t i, int wait_status) const;

  TempDir dir_;
  LeasedPorts ports_;
  bool tls_ = false;
  std::string initial_cluster_;
  std::vector<Member> members_;
};

}  // namespace portlease::testing

#endif  // PORTLEASE_TESTS_SUPPORT_ETCD_CLUSTER_H_
