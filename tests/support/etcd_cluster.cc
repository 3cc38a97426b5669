#include "tests/support/etcd_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <initializer_list>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/system/files.h"
#include "testing/stop_process.h"

namespace portlease::testing {
namespace {

std::string EtcdBinary() {
  const char* env = std::getenv("PORTLEASE_ETCD_BIN");
  return env != nullptr && *env != '\0' ? env : "/usr/bin/etcd";
}

std::string Url(uint16_t port) { return absl::StrCat("http://127.0.0.1:", port); }

// Makes a CA, a server certificate for 127.0.0.1 and a client certificate
// in `dir` with openssl: ca.pem, server.{pem,key}, client.{pem,key}.
constexpr char kMakeCertificates[] = R"(set -e
key='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'
openssl req -x509 $key -days 2 -subj /CN=portlease-test-ca -keyout ca.key -out ca.pem
echo 'subjectAltName=IP:127.0.0.1' > server.ext
echo 'extendedKeyUsage=clientAuth' > client.ext
for who in server client; do
  openssl req $key -subj /CN=$who -keyout $who.key -out $who.csr
  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -days 2 -extfile $who.ext -out $who.pem
done
)";

absl::Status MakeCertificates(const std::string& dir) {
  absl::Status written = WriteFileAtomically(dir + "/make-certs.sh", kMakeCertificates, 0644);
  if (!written.ok()) return written;
  const std::string command =
      absl::StrCat("cd '", dir, "' && /bin/sh make-certs.sh > openssl.log 2>&1");
  if (std::system(command.c_str()) != 0) {
    absl::StatusOr<std::string> log = ReadFile(dir + "/openssl.log");
    return absl::InternalError(absl::StrCat("openssl could not make test certificates in ",
                                            dir, ": ", log.ok() ? *log : ""));
  }
  return absl::OkStatus();
}

// GET /health on the member's client port; true if it says healthy. Each
// step is bounded by a one-second socket timeout.
bool ReportsHealthy(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  timeval timeout{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string request = "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[1024];
      ssize_t n;
      while ((n = read(fd, buffer, sizeof(buffer))) > 0) reply.append(buffer, n);
    }
  }
  close(fd);
  return absl::StrContains(reply, "\"health\":\"true\"");
}

std::string LogTail(const std::string& path) {
  absl::StatusOr<std::string> log = ReadFile(path);
  if (!log.ok()) return std::string(log.status().message());
  return log->size() > 2000 ? log->substr(log->size() - 2000) : *log;
}

}  // namespace

bool EtcdCluster::Installed() { return access(EtcdBinary().c_str(), X_OK) == 0; }

std::string EtcdCluster::NotInstalledMessage() {
  return absl::StrCat("no etcd at ", EtcdBinary(),
                      ": install Debian's etcd-server or set PORTLEASE_ETCD_BIN");
}

EtcdCluster::EtcdCluster(LeasedPorts ports) : ports_(std::move(ports)) {}

absl::StatusOr<std::unique_ptr<EtcdCluster>> EtcdCluster::Start(size_t members,
                                                              Security security) {
  if (members == 0 || members > 5) {
    return absl::InvalidArgumentError("EtcdCluster: 1 to 5 members");
  }
  absl::StatusOr<LeasedPorts> ports = LeasedPorts::Acquire(3 * members);
  if (!ports.ok()) return ports.status();
  std::unique_ptr<EtcdCluster> cluster(new EtcdCluster(*std::move(ports)));
  cluster->tls_ = security == Security::kTls;
  if (cluster->tls_) {
    absl::Status made = MakeCertificates(cluster->dir_.path());
    if (!made.ok()) return made;
  }
  std::vector<std::string> peers;
  for (size_t i = 0; i < members; ++i) {
    Member m;
    m.name = absl::StrCat("m", i);
    m.data_dir = cluster->dir_.File(m.name);
    m.log_file = cluster->dir_.File(m.name + ".log");
    m.client_port = cluster->ports_.port(3 * i);
    m.peer_port = cluster->ports_.port(3 * i + 1);
    m.health_port = cluster->ports_.port(3 * i + 2);
    peers.push_back(absl::StrCat(m.name, "=", Url(m.peer_port)));
    cluster->members_.push_back(std::move(m));
  }
  cluster->initial_cluster_ = absl::StrJoin(peers, ",");
  for (size_t i = 0; i < members; ++i) {
    absl::Status spawned = cluster->Spawn(i, /*existing=*/false);
    if (!spawned.ok()) return spawned;
  }
  // The members wait for each other: all are started before any is asked.
  for (size_t i = 0; i < members; ++i) {
    absl::Status healthy = cluster->WaitHealthy(i, absl::Seconds(30));
    if (!healthy.ok()) return healthy;
  }
  return cluster;
}

EtcdCluster::~EtcdCluster() {
  for (Member& m : members_) {
    if (m.pid <= 0) continue;
    kill(m.pid, SIGKILL);
    waitpid(m.pid, nullptr, 0);
    m.pid = -1;
  }
}

std::vector<std::string> EtcdCluster::endpoints() const {
  std::vector<std::string> urls;
  for (size_t i = 0; i < members_.size(); ++i) urls.push_back(endpoint(i));
  return urls;
}

std::string EtcdCluster::endpoint(size_t i) const {
  return absl::StrCat(tls_ ? "https" : "http", "://127.0.0.1:", members_.at(i).client_port);
}

std::vector<pid_t> EtcdCluster::pids() const {
  std::vector<pid_t> running;
  for (const Member& m : members_) {
    if (m.pid > 0) running.push_back(m.pid);
  }
  return running;
}

std::string EtcdCluster::ca_file() const { return tls_ ? dir_.File("ca.pem") : ""; }
std::string EtcdCluster::client_cert_file() const { return tls_ ? dir_.File("client.pem") : ""; }
std::string EtcdCluster::client_key_file() const { return tls_ ? dir_.File("client.key") : ""; }

absl::Status EtcdCluster::Spawn(size_t i, bool existing) {
  const Member& m = members_.at(i);
  std::vector<std::string> args = {
      EtcdBinary(),
      "--name", m.name,
      "--data-dir", m.data_dir,
      "--listen-client-urls", endpoint(i),
      "--advertise-client-urls", endpoint(i),
      // Plain HTTP /health, also when the client port speaks TLS.
      "--listen-metrics-urls", Url(m.health_port),
      "--listen-peer-urls", Url(m.peer_port),
      "--initial-advertise-peer-urls", Url(m.peer_port),
      "--initial-cluster", initial_cluster_,
      "--initial-cluster-state", existing ? "existing" : "new",
      "--initial-cluster-token", absl::StrCat("portlease-test-", ports_.base()),
      // Lets a test client ping every second to notice a stopped member.
      "--grpc-keepalive-min-time", "1s",
      "--heartbeat-interval", "50",
      "--election-timeout", "500",
      "--logger", "zap",
      "--log-outputs", "stderr",
      "--log-level", "error",
  };
  if (tls_) {
    args.insert(args.end(), {"--cert-file", dir_.File("server.pem"), "--key-file",
                             dir_.File("server.key"), "--trusted-ca-file", dir_.File("ca.pem"),
                             "--client-cert-auth"});
  }
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const int log = open(m.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return absl::InternalError(absl::StrCat(m.log_file, ": ", strerror(errno)));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(log);
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  members_[i].pid = pid;
  return absl::OkStatus();
}

absl::Status EtcdCluster::ExitedError(size_t i, int wait_status) const {
  const Member& m = members_.at(i);
  return absl::InternalError(absl::StrCat(
      "etcd member ", m.name, " (", EtcdBinary(), ") exited",
      WIFEXITED(wait_status) ? absl::StrCat(" with status ", WEXITSTATUS(wait_status))
                             : absl::StrCat(" on signal ", WTERMSIG(wait_status)),
      "; ", m.log_file, " ends:\n", LogTail(m.log_file)));
}

absl::Status EtcdCluster::WaitHealthy(size_t i, absl::Duration timeout) {
  Member& m = members_.at(i);
  const absl::Time deadline = absl::Now() + Scaled(timeout);
  while (true) {
    if (m.pid <= 0) return absl::FailedPreconditionError(m.name + " is not running");
    int wait_status = 0;
    if (waitpid(m.pid, &wait_status, WNOHANG) == m.pid) {
      m.pid = -1;
      return ExitedError(i, wait_status);
    }
    if (ReportsHealthy(m.health_port)) return absl::OkStatus();
    if (absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "etcd member ", m.name, " at ", endpoint(i), " not healthy after ",
      absl::FormatDuration(Scaled(timeout)), "; ", m.log_file, " ends:\n", LogTail(m.log_file)));
}

absl::Status EtcdCluster::Kill(size_t i) {
  Member& m = members_.at(i);
  if (m.pid <= 0) return absl::FailedPreconditionError(m.name + " is not running");
  kill(m.pid, SIGKILL);
  waitpid(m.pid, nullptr, 0);
  m.pid = -1;
  return absl::OkStatus();
}

absl::Status EtcdCluster::Stop(size_t i) {
  const Member& m = members_.at(i);
  if (m.pid <= 0) return absl::FailedPreconditionError(m.name + " is not running");
  // kill(2) returns before the stop is complete; a thread may still
  // answer a request for a while on a loaded machine.
  absl::Status stopped = StopProcess(m.pid);
  if (!stopped.ok()) {
    return absl::Status(stopped.code(),
                        m.name + ": " + std::string(stopped.message()));
  }
  return absl::OkStatus();
}

absl::Status EtcdCluster::Cont(size_t i) {
  const Member& m = members_.at(i);
  if (m.pid <= 0) return absl::FailedPreconditionError(m.name + " is not running");
  if (kill(m.pid, SIGCONT) != 0) return absl::InternalError(strerror(errno));
  return absl::OkStatus();
}

absl::Status EtcdCluster::Restart(size_t i) {
  if (members_.at(i).pid > 0) {
    return absl::FailedPreconditionError(members_[i].name + " is still running: Kill it first");
  }
  absl::Status spawned = Spawn(i, /*existing=*/true);
  if (!spawned.ok()) return spawned;
  return WaitHealthy(i, absl::Seconds(30));
}

absl::Status EtcdCluster::RestartAll() {
  for (size_t i = 0; i < members_.size(); ++i) {
    if (members_[i].pid > 0) continue;
    if (absl::Status spawned = Spawn(i, /*existing=*/true); !spawned.ok()) {
      return spawned;
    }
  }
  for (size_t i = 0; i < members_.size(); ++i) {
    if (absl::Status healthy = WaitHealthy(i, absl::Seconds(30));
        !healthy.ok()) {
      return healthy;
    }
  }
  return absl::OkStatus();
}

}  // namespace portlease::testing
