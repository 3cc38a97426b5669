#include "tests/bench/load_clients.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iterator>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"

namespace portlease::bench {
namespace {

constexpr absl::Duration kRpcTimeout = absl::Seconds(10);

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

double CpuSeconds(const std::vector<pid_t>& pids) {
  double sum = 0;
  for (pid_t pid : pids) sum += CpuSeconds(pid);
  return sum;
}

}  // namespace

LeasePairClient::LeasePairClient(const std::string& address, int client)
    : stub_(v1::PortLease::NewStub(NewChannel(address))), client_(client) {}

absl::Status LeasePairClient::Pair() {
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

EchoPairClient::EchoPairClient(const std::string& address,
                               const std::vector<size_t>& sizes,
                               std::pair<uint32_t, uint32_t> busy_us)
    : stub_(Echo::NewStub(NewChannel(address))),
      first_(PaddedRequest(sizes[0], sizes[1], busy_us.first)),
      second_(PaddedRequest(sizes[2], sizes[3], busy_us.second)) {}

absl::Status EchoPairClient::Pair() {
  for (const EchoRequest* request : {&first_, &second_}) {
    grpc::ClientContext context;
    SetDeadline(&context);
    EchoResponse response;
    grpc::Status status = stub_->Echo(&context, *request, &response);
    if (!status.ok()) return FromGrpc(status);
  }
  return absl::OkStatus();
}

std::vector<size_t> EchoPairClient::sizes() const {
  EchoResponse a, b;
  a.mutable_payload()->assign(first_.response_bytes(), 'x');
  b.mutable_payload()->assign(second_.response_bytes(), 'x');
  return {first_.ByteSizeLong(), a.ByteSizeLong(), second_.ByteSizeLong(),
          b.ByteSizeLong()};
}

// Runs `clients` threads, each with a client from `make`, for `duration`
// after a warm-up of kWarmupPairs pairs each, and measures the CPU time
// the `servers` (and the `store` processes) used meanwhile.
PhaseResult RunPhase(
    int clients, const std::function<std::unique_ptr<PairClient>(int)>& make,
    absl::Duration duration, const std::vector<pid_t>& servers,
    const std::vector<pid_t>& store) {
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
  const double cpu_before = CpuSeconds(servers);
  const double store_before = CpuSeconds(store);
  start = absl::Now();
  stop = start + duration;
  go.store(true);
  for (std::thread& t : threads) t.join();
  result.server_cpu_s = CpuSeconds(servers) - cpu_before;
  result.store_cpu_s = CpuSeconds(store) - store_before;
  result.seconds = absl::ToDoubleSeconds(std::max(absl::Now(), stop) - start);
  result.pairs = static_cast<int64_t>(all_ns.size());
  result.p50_us = Percentile(all_ns, 0.50);
  result.p99_us = Percentile(all_ns, 0.99);
  return result;
}

int64_t RssKb(pid_t pid, const char* field) {
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

}  // namespace portlease::bench
