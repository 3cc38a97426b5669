// portlease_load: drives a real portleased over a Unix socket and compares
// it, in the same run, with a bare gRPC echo service (bench_echo_server)
// carrying messages of the same sizes.
//
// For each client count C (--clients), C threads, each with its own channel
// (its own connection), loop for --duration:
//   portlease: Acquire a 5-port named lease (redis, worker, orch, health,
//              metrics), then Release it: one "pair";
//   echo:      two echo calls whose requests and responses have the sizes
//              of that Acquire and Release (measured on the wire format).
// It prints p50/p99 latency of a pair, pairs per second and the server's
// CPU time per pair for both, their ratios (and, with --echo_busy_us, the
// same against an echo server doing that much busy work per call), the
// server's RSS after the load, and the RSS of a fresh server
// holding --rss_leases live leases. Then PASS/FAIL against the targets:
//   - 1 client:   portlease pair p50 <= 1.5x echo pair p50;
//   - 16 clients: portlease pairs/s >= 0.5x echo pairs/s;
//   - RSS with 10,000 live leases <= 64 MB.
// Timing targets never change the exit code (0; 1 when the setup fails).
//
// The server is durable: SQLite in a temp dir (--db_sync), every grant and
// release committed before the reply; --probes=system (default) makes it
// check every granted and released port on the host, --probes=system,none
// also runs the whole set against a server that trusts its pool. The
// cool-down is 0 so that a few blocks are reused for the whole run (the
// allocator's cost as the pool fills is allocator_benchmark's subject).
//
//   portlease_load                       # 1,4,16,64 clients, 5 s each
//   portlease_load --duration=2s --clients=1,16 --probes=system,none
//   portlease_load --clients=1,16 --echo_busy_us=90,31  # + a busy echo
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "portlease/bench/echo.grpc.pb.h"
#include "portlease/v1/portlease.grpc.pb.h"
#include "tests/server/daemon_process.h"
#include "tests/server/test_util.h"

ABSL_FLAG(std::string, portleased, PORTLEASED_PATH, "The portleased binary.");
ABSL_FLAG(std::string, echo_server, ECHO_SERVER_PATH,
          "The bench_echo_server binary.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5),
          "How long each (target, client count) phase runs.");
ABSL_FLAG(std::vector<std::string>, clients,
          std::vector<std::string>({"1", "4", "16", "64"}),
          "Concurrent client counts, one phase each.");
ABSL_FLAG(std::vector<std::string>, probes,
          std::vector<std::string>({"system"}),
          "portleased --probe modes to run the phases against: system, "
          "none, or both (system,none).");
ABSL_FLAG(std::string, db_sync, "normal",
          "portleased --db_sync: normal or full.");
ABSL_FLAG(std::string, pool, "20000-29999",
          "portleased --pool for the load phases.");
ABSL_FLAG(std::vector<std::string>, server_args, {},
          "Extra portleased flags for the load phases, comma-separated "
          "(e.g. --server_args=--nodurable to isolate the store's cost).");
ABSL_FLAG(std::vector<std::string>, echo_busy_us, {},
          "ACQUIRE,RELEASE: also run each phase against an echo server "
          "whose two calls keep its handler busy that many microseconds "
          "(e.g. portleased's measured handler times, 90,31), and print "
          "portlease's ratios to that. Informational: the targets compare "
          "with the bare echo.");
ABSL_FLAG(int, rss_leases, 10000,
          "Live leases held for the RSS measurement; 0 skips it.");
ABSL_FLAG(std::string, rss_pool, "10000-49999",
          "portleased --pool for the RSS measurement (40,000 ports; the "
          "server runs with --ephemeral=allow and skips busy ports).");

namespace portlease::bench {
namespace {

constexpr absl::Duration kRpcTimeout = absl::Seconds(10);
constexpr int kWarmupPairs = 20;

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + kRpcTimeout));
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& address) {
  grpc::ChannelArguments args;
  // One connection per client, as separate CI jobs would have.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

// The Acquire every portlease client sends: what lease-run sends for a
// five-port named lease, with a fresh request_id each time.
v1::AcquireRequest MakeAcquireRequest(int client, uint64_t sequence) {
  v1::AcquireRequest request;
  for (const char* name : {"redis", "worker", "orch", "health", "metrics"}) {
    request.add_names(name);
  }
  request.mutable_ttl()->set_seconds(60);
  auto& owner = *request.mutable_owner();
  owner["host"] = "bench-host";
  owner["pid"] = absl::StrCat(getpid());
  owner["user"] = "bench";
  owner["command"] = "portlease_load";
  owner["ci_job"] = absl::StrCat("load-", client);
  request.set_request_id(absl::StrFormat("%016x%016x", client + 1, sequence));
  return request;
}

// One client: makes "pairs" of calls on its own connection.
class PairClient {
 public:
  virtual ~PairClient() = default;
  virtual absl::Status Pair() = 0;
};

class LeasePairClient : public PairClient {
 public:
  LeasePairClient(const std::string& address, int client)
      : stub_(v1::PortLease::NewStub(NewChannel(address))), client_(client) {}

  absl::Status Pair() override {
    const v1::AcquireRequest request = MakeAcquireRequest(client_, ++sequence_);
    v1::AcquireResponse acquired;
    {
      grpc::ClientContext context;
      SetDeadline(&context);
      grpc::Status status = stub_->Acquire(&context, request, &acquired);
      if (!status.ok()) return FromGrpc(status);
    }
    v1::ReleaseRequest release;
    release.set_lease_id(acquired.lease().lease_id());
    v1::ReleaseResponse released;
    grpc::ClientContext context;
    SetDeadline(&context);
    grpc::Status status = stub_->Release(&context, release, &released);
    if (!status.ok()) return FromGrpc(status);
    if (sizes_.empty()) {  // once: measuring is not part of a client's work
      sizes_ = {request.ByteSizeLong(), acquired.ByteSizeLong(),
                release.ByteSizeLong(), released.ByteSizeLong()};
    }
    return absl::OkStatus();
  }

  // Wire sizes of the first pair (every pair has the same): Acquire
  // request/response, Release request/response.
  std::vector<size_t> sizes() const { return sizes_; }

 private:
  std::unique_ptr<v1::PortLease::Stub> stub_;
  int client_;
  uint64_t sequence_ = 0;
  std::vector<size_t> sizes_;
};

// An EchoRequest of exactly `size` bytes (when possible) asking for an
// EchoResponse of `response_size` bytes after `busy_us` of busy work.
EchoRequest PaddedRequest(size_t size, size_t response_size, uint32_t busy_us) {
  uint32_t payload = 0;
  while (payload < response_size + 8) {  // response: tag, length, payload
    EchoResponse probe;
    probe.mutable_payload()->assign(payload, 'x');
    if (probe.ByteSizeLong() >= response_size) break;
    ++payload;
  }
  EchoRequest request;
  request.set_response_bytes(payload);
  request.set_busy_us(busy_us);
  for (size_t n = 0; n <= size; ++n) {
    request.mutable_payload()->assign(n, 'x');
    if (request.ByteSizeLong() >= size) break;
  }
  return request;
}

class EchoPairClient : public PairClient {
 public:
  // `busy_us`: the handler's busy work per call, first and second.
  EchoPairClient(const std::string& address, const std::vector<size_t>& sizes,
                 std::pair<uint32_t, uint32_t> busy_us = {0, 0})
      : stub_(Echo::NewStub(NewChannel(address))),
        first_(PaddedRequest(sizes[0], sizes[1], busy_us.first)),
        second_(PaddedRequest(sizes[2], sizes[3], busy_us.second)) {}

  absl::Status Pair() override {
    for (const EchoRequest* request : {&first_, &second_}) {
      grpc::ClientContext context;
      SetDeadline(&context);
      EchoResponse response;
      grpc::Status status = stub_->Echo(&context, *request, &response);
      if (!status.ok()) return FromGrpc(status);
    }
    return absl::OkStatus();
  }

  std::vector<size_t> sizes() const {
    EchoResponse a, b;
    a.mutable_payload()->assign(first_.response_bytes(), 'x');
    b.mutable_payload()->assign(second_.response_bytes(), 'x');
    return {first_.ByteSizeLong(), a.ByteSizeLong(), second_.ByteSizeLong(),
            b.ByteSizeLong()};
  }

 private:
  std::unique_ptr<Echo::Stub> stub_;
  EchoRequest first_;
  EchoRequest second_;
};

struct PhaseResult {
  int clients = 0;
  int64_t pairs = 0;
  int64_t errors = 0;
  std::string first_error;
  double seconds = 0;
  double p50_us = 0;
  double p99_us = 0;
  // CPU time (user + system) the server used during the timed part.
  double server_cpu_s = 0;
  double PairsPerSecond() const { return seconds > 0 ? pairs / seconds : 0; }
  double ServerCpuUsPerPair() const {
    return pairs > 0 ? server_cpu_s * 1e6 / static_cast<double>(pairs) : 0;
  }
};

double Percentile(std::vector<int64_t>& ns, double q) {
  if (ns.empty()) return 0;
  const size_t k = std::min(
      ns.size() - 1, static_cast<size_t>(q * static_cast<double>(ns.size())));
  std::nth_element(ns.begin(), ns.begin() + static_cast<ptrdiff_t>(k),
                   ns.end());
  return static_cast<double>(ns[k]) / 1000.0;
}

// User + system CPU seconds `pid` has used, from /proc/PID/stat; 0 when
// unreadable.
double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  // Fields after the command (which may hold spaces) in parentheses:
  // state is field 3, utime 14, stime 15.
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::vector<std::string> fields =
      absl::StrSplit(stat.substr(paren + 1), ' ', absl::SkipEmpty());
  int64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return 0;
  }
  return static_cast<double>(utime + stime) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Runs `clients` threads, each with a client from `make`, for `duration`
// after a warm-up of kWarmupPairs pairs each, and measures the CPU time
// `server` used meanwhile.
PhaseResult RunPhase(
    int clients, const std::function<std::unique_ptr<PairClient>(int)>& make,
    absl::Duration duration, pid_t server) {
  std::vector<std::unique_ptr<PairClient>> pair_clients;
  for (int i = 0; i < clients; ++i) pair_clients.push_back(make(i));

  absl::Mutex mu;
  PhaseResult result;
  result.clients = clients;
  std::vector<int64_t> all_ns;
  absl::BlockingCounter warmed(clients);
  std::atomic<bool> go{false};
  absl::Time start, stop;
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      PairClient& client = *pair_clients[i];
      for (int w = 0; w < kWarmupPairs; ++w) (void)client.Pair();
      warmed.DecrementCount();
      while (!go.load()) absl::SleepFor(absl::Microseconds(200));
      std::vector<int64_t> ns;
      ns.reserve(1 << 16);
      int64_t errors = 0;
      std::string first_error;
      const absl::Time end = stop;
      while (true) {
        const absl::Time t0 = absl::Now();
        if (t0 >= end) break;
        absl::Status status = client.Pair();
        const absl::Time t1 = absl::Now();
        if (status.ok()) {
          ns.push_back(absl::ToInt64Nanoseconds(t1 - t0));
        } else {
          if (errors++ == 0) first_error = status.ToString();
        }
      }
      absl::MutexLock lock(&mu);
      all_ns.insert(all_ns.end(), ns.begin(), ns.end());
      result.errors += errors;
      if (result.first_error.empty()) result.first_error = first_error;
    });
  }
  warmed.Wait();
  const double cpu_before = CpuSeconds(server);
  start = absl::Now();
  stop = start + duration;
  go.store(true);
  for (std::thread& t : threads) t.join();
  result.server_cpu_s = CpuSeconds(server) - cpu_before;
  result.seconds = absl::ToDoubleSeconds(std::max(absl::Now(), stop) - start);
  result.pairs = static_cast<int64_t>(all_ns.size());
  result.p50_us = Percentile(all_ns, 0.50);
  result.p99_us = Percentile(all_ns, 0.99);
  return result;
}

// VmRSS (kB) of `pid`, or -1.
int64_t RssKb(pid_t pid, const char* field = "VmRSS:") {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) {
      int64_t kb = -1;
      std::string digits;
      for (char c : line) {
        if (c >= '0' && c <= '9') digits.push_back(c);
      }
      if (absl::SimpleAtoi(digits, &kb)) return kb;
    }
  }
  return -1;
}

std::string Mb(int64_t kb) { return absl::StrFormat("%.1f MB", kb / 1024.0); }

void PrintRow(const char* target, const PhaseResult& r) {
  std::printf("%7d  %-9s  %9.0f  %9.1f  %9.1f  %9.0f  %7lld\n", r.clients,
              target, r.PairsPerSecond(), r.p50_us, r.p99_us,
              r.ServerCpuUsPerPair(), static_cast<long long>(r.errors));
  if (!r.first_error.empty()) {
    std::printf("         first error: %s\n", r.first_error.c_str());
  }
}

struct Target {
  std::string what;
  std::optional<bool> pass;  // nullopt: not measured
  std::string measured;
};

absl::StatusOr<DaemonProcess> StartPortleased(
    const TempDir& dir, const std::string& name,
    const std::vector<std::string>& extra) {
  std::vector<std::string> args = {
      absl::StrCat("--listen=unix:", dir.File(name + ".sock")),
      absl::StrCat("--db=", dir.File(name + ".db")),
      absl::StrCat("--db_sync=", absl::GetFlag(FLAGS_db_sync)),
      "--cooldown=0s",
      // Capacity is measured, not the per-caller limits: one driver
      // process makes every request and holds every lease.
      "--rate_limit=0",
      "--max_leases_per_owner=0",
      "--max_ports_per_owner=0",
  };
  args.insert(args.end(), extra.begin(), extra.end());
  return DaemonProcess::Start(absl::GetFlag(FLAGS_portleased), args,
                              dir.File(name + ".log"));
}

// Acquires `count` 2-port leases with a 1 h TTL on `address` from 8
// threads. Returns how many were granted.
int64_t FillLeases(const std::string& address, int count) {
  std::atomic<int> next{0};
  std::atomic<int64_t> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto stub = v1::PortLease::NewStub(NewChannel(address));
      while (next.fetch_add(1) < count) {
        v1::AcquireRequest request;
        request.set_count(2);
        request.mutable_ttl()->set_seconds(3600);
        (*request.mutable_owner())["ci_job"] = absl::StrCat("rss-", t);
        v1::AcquireResponse response;
        grpc::ClientContext context;
        SetDeadline(&context);
        if (stub->Acquire(&context, request, &response).ok()) ++granted;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return granted.load();
}

int Run(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "drives a real portleased and a bare gRPC echo server with the same "
      "clients; prints latency, throughput, RSS and PASS/FAIL per target.");
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  std::vector<int> client_counts;
  for (const std::string& text : absl::GetFlag(FLAGS_clients)) {
    int c = 0;
    if (!absl::SimpleAtoi(text, &c) || c < 1 || c > 1024) {
      std::fprintf(stderr, "portlease_load: bad --clients value %s\n",
                   text.c_str());
      return 2;
    }
    client_counts.push_back(c);
  }
  std::optional<std::pair<uint32_t, uint32_t>> echo_busy;
  if (const std::vector<std::string> busy = absl::GetFlag(FLAGS_echo_busy_us);
      !busy.empty()) {
    uint32_t acquire = 0, release = 0;
    if (busy.size() != 2 || !absl::SimpleAtoi(busy[0], &acquire) ||
        !absl::SimpleAtoi(busy[1], &release) || acquire > 100'000 ||
        release > 100'000) {
      std::fprintf(stderr,
                   "portlease_load: --echo_busy_us wants ACQUIRE,RELEASE "
                   "microseconds (0-100000 each), e.g. 90,31\n");
      return 2;
    }
    echo_busy = std::make_pair(acquire, release);
  }
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);

  TempDir dir;
  absl::StatusOr<DaemonProcess> echo = DaemonProcess::Start(
      absl::GetFlag(FLAGS_echo_server),
      {absl::StrCat("--listen=unix:", dir.File("echo.sock"))},
      dir.File("echo.log"));
  if (!echo.ok() || !echo->ready()) {
    std::fprintf(
        stderr, "portlease_load: echo server did not start: %s\n",
        echo.ok() ? echo->Stderr().c_str() : echo.status().ToString().c_str());
    return 1;
  }
  const std::string echo_address = echo->addresses().front();

  std::vector<Target> targets;
  std::optional<double> p50_ratio_1, throughput_ratio_16;
  for (const std::string& probe : absl::GetFlag(FLAGS_probes)) {
    std::vector<std::string> server_args = {
        absl::StrCat("--pool=", absl::GetFlag(FLAGS_pool)),
        absl::StrCat("--probe=", probe)};
    for (const std::string& arg : absl::GetFlag(FLAGS_server_args)) {
      server_args.push_back(arg);
    }
    absl::StatusOr<DaemonProcess> server =
        StartPortleased(dir, "load-" + probe, server_args);
    if (!server.ok() || !server->ready()) {
      std::fprintf(stderr, "portlease_load: portleased did not start: %s\n",
                   server.ok() ? server->Stderr().c_str()
                               : server.status().ToString().c_str());
      return 1;
    }
    const std::string address = server->addresses().front();
    // Message sizes, from one real pair.
    LeasePairClient sizer(address, 999);
    if (absl::Status s = sizer.Pair(); !s.ok()) {
      std::fprintf(stderr, "portlease_load: first Acquire+Release failed: %s\n",
                   s.ToString().c_str());
      return 1;
    }
    const std::vector<size_t> sizes = sizer.sizes();
    const std::vector<size_t> echo_sizes =
        EchoPairClient(echo_address, sizes).sizes();
    std::printf(
        "\nportleased --probe=%s, SQLite db in a temp dir (--db_sync=%s, "
        "every change committed before the reply), pool %s, cool-down 0\n"
        "message bytes: Acquire %zu -> %zu, Release %zu -> %zu; "
        "echo pair %zu -> %zu, %zu -> %zu\n"
        "extra portleased flags: %s\n"
        "%s per phase, %d warm-up pairs per client%s\n\n"
        "clients  target       pairs/s    p50 us    p99 us  srv cpu/pair us  "
        "errors\n",
        probe.c_str(), absl::GetFlag(FLAGS_db_sync).c_str(),
        absl::GetFlag(FLAGS_pool).c_str(), sizes[0], sizes[1], sizes[2],
        sizes[3], echo_sizes[0], echo_sizes[1], echo_sizes[2], echo_sizes[3],
        absl::GetFlag(FLAGS_server_args).empty()
            ? "none"
            : absl::StrJoin(absl::GetFlag(FLAGS_server_args), " ").c_str(),
        absl::FormatDuration(duration).c_str(), kWarmupPairs,
        echo_busy ? absl::StrFormat("; echo+busy: the echo server busy %u "
                                    "us in the first call, %u us in the "
                                    "second",
                                    echo_busy->first, echo_busy->second)
                        .c_str()
                  : "");
    for (int clients : client_counts) {
      PhaseResult lease = RunPhase(
          clients,
          [&](int i) { return std::make_unique<LeasePairClient>(address, i); },
          duration, server->pid());
      PhaseResult bare = RunPhase(
          clients,
          [&](int) {
            return std::make_unique<EchoPairClient>(echo_address, sizes);
          },
          duration, echo->pid());
      std::optional<PhaseResult> busy;
      if (echo_busy) {
        busy = RunPhase(
            clients,
            [&](int) {
              return std::make_unique<EchoPairClient>(echo_address, sizes,
                                                      *echo_busy);
            },
            duration, echo->pid());
      }
      PrintRow("portlease", lease);
      PrintRow("echo", bare);
      const double throughput_ratio =
          bare.PairsPerSecond() > 0
              ? lease.PairsPerSecond() / bare.PairsPerSecond()
              : 0;
      const double p50_ratio = bare.p50_us > 0 ? lease.p50_us / bare.p50_us : 0;
      std::printf("         ratio      %8.2fx  %8.2fx  %8.2fx\n",
                  throughput_ratio, p50_ratio,
                  bare.p99_us > 0 ? lease.p99_us / bare.p99_us : 0);
      if (busy) {
        PrintRow("echo+busy", *busy);
        std::printf("   ratio to echo+busy %8.2fx  %8.2fx  %8.2fx\n",
                    busy->PairsPerSecond() > 0
                        ? lease.PairsPerSecond() / busy->PairsPerSecond()
                        : 0,
                    busy->p50_us > 0 ? lease.p50_us / busy->p50_us : 0,
                    busy->p99_us > 0 ? lease.p99_us / busy->p99_us : 0);
      }
      std::fflush(stdout);
      if (probe == absl::GetFlag(FLAGS_probes).front()) {
        if (clients == 1 && lease.errors == 0) p50_ratio_1 = p50_ratio;
        if (clients == 16 && lease.errors == 0) {
          throughput_ratio_16 = throughput_ratio;
        }
      }
    }
    std::printf("portleased RSS after the load: %s (peak %s)\n",
                Mb(RssKb(server->pid())).c_str(),
                Mb(RssKb(server->pid(), "VmHWM:")).c_str());
    server->Stop(SIGTERM);
  }
  const std::string first_probe = absl::GetFlag(FLAGS_probes).empty()
                                      ? "system"
                                      : absl::GetFlag(FLAGS_probes).front();
  targets.push_back(
      {absl::StrCat("acquire+release p50 <= 1.5x echo pair p50, 1 client "
                    "(--probe=",
                    first_probe, ")"),
       p50_ratio_1 ? std::optional<bool>(*p50_ratio_1 <= 1.5) : std::nullopt,
       p50_ratio_1 ? absl::StrFormat("%.2fx", *p50_ratio_1) : "not run"});
  targets.push_back(
      {absl::StrCat("acquire+release pairs/s >= 0.5x echo pairs/s, 16 "
                    "clients (--probe=",
                    first_probe, ")"),
       throughput_ratio_16 ? std::optional<bool>(*throughput_ratio_16 >= 0.5)
                           : std::nullopt,
       throughput_ratio_16 ? absl::StrFormat("%.2fx", *throughput_ratio_16)
                           : "not run"});

  const int rss_leases = absl::GetFlag(FLAGS_rss_leases);
  if (rss_leases > 0) {
    absl::StatusOr<DaemonProcess> server =
        StartPortleased(dir, "rss",
                        {absl::StrCat("--pool=", absl::GetFlag(FLAGS_rss_pool)),
                         "--ephemeral=allow", "--probe=system"});
    if (!server.ok() || !server->ready()) {
      std::fprintf(stderr, "portlease_load: portleased did not start: %s\n",
                   server.ok() ? server->Stderr().c_str()
                               : server.status().ToString().c_str());
      return 1;
    }
    const int64_t idle_kb = RssKb(server->pid());
    const absl::Time t0 = absl::Now();
    const int64_t granted = FillLeases(server->addresses().front(), rss_leases);
    const double fill_s = absl::ToDoubleSeconds(absl::Now() - t0);
    const int64_t kb = RssKb(server->pid());
    std::printf(
        "\nRSS: idle %s; with %lld live 2-port leases (pool %s, probe=system): "
        "%s (peak %s); filled in %.1f s\n",
        Mb(idle_kb).c_str(), static_cast<long long>(granted),
        absl::GetFlag(FLAGS_rss_pool).c_str(), Mb(kb).c_str(),
        Mb(RssKb(server->pid(), "VmHWM:")).c_str(), fill_s);
    const bool all = granted == rss_leases;
    targets.push_back(
        {absl::StrCat("RSS <= 64 MB with ", rss_leases, " live leases"),
         all ? std::optional<bool>(kb <= 64 * 1024)
             : std::optional<bool>(false),
         all ? Mb(kb) : absl::StrCat("only ", granted, " leases granted")});
    server->Stop(SIGTERM);
  }
  echo->Stop(SIGTERM);

  std::printf("\n");
  for (const Target& t : targets) {
    std::printf("%-4s %s: %s\n", !t.pass ? "--" : (*t.pass ? "PASS" : "FAIL"),
                t.what.c_str(), t.measured.c_str());
  }
  return 0;
}

}  // namespace
}  // namespace portlease::bench

int main(int argc, char** argv) { return portlease::bench::Run(argc, argv); }
