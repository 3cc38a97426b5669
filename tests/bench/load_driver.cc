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
// --etcd (or --stores=sqlite,etcd) adds the replicated store: for each
// etcd cluster size in --etcd_members, 1 and 3 portleased replicas
// (--etcd_replicas) with --store=etcd --probe=none, clients spread over
// the replicas (load_etcd.h). It ends with one table per client count:
// the echo floor, the SQLite server (the --probe=none run if there was
// one) and every etcd set, with the etcd members' CPU per pair. No
// target: the etcd rows are reported, never PASS/FAIL. Without an etcd
// binary the phase says so and is skipped.
//
//   portlease_load                       # 1,4,16,64 clients, 5 s each
//   portlease_load --duration=2s --clients=1,16 --probes=system,none
//   portlease_load --clients=1,16 --echo_busy_us=90,31  # + a busy echo
//   portlease_load --clients=1,16 --duration=3s --probes=none --etcd
//
// This file is the command line and the report; the clients and the
// measurements are in load_clients.{h,cc}, the etcd phase in
// load_etcd.{h,cc}.
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
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
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/bench/load_clients.h"
#include "tests/bench/load_etcd.h"
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
ABSL_FLAG(std::vector<std::string>, stores,
          std::vector<std::string>({"sqlite"}),
          "Stores to measure: sqlite (the --probes phases, the echo floor "
          "and the targets), etcd (the replicated phase), or both.");
ABSL_FLAG(bool, etcd, false, "Same as adding etcd to --stores.");
ABSL_FLAG(std::vector<std::string>, etcd_members,
          std::vector<std::string>({"1", "3"}),
          "etcd cluster sizes for the etcd phase (1-5), one cluster each.");
ABSL_FLAG(std::vector<std::string>, etcd_replicas,
          std::vector<std::string>({"1", "3"}),
          "portleased replica counts run against every etcd cluster.");
ABSL_FLAG(std::string, etcd_port_pool, "31000-31999",
          "Without $PORTLEASE_TEST_ADDR: the pool of the portleased "
          "(--probe=system) the etcd members' ports are leased from.");
ABSL_FLAG(int, rss_leases, 10000,
          "Live leases held for the RSS measurement; 0 skips it.");
ABSL_FLAG(std::string, rss_pool, "10000-49999",
          "portleased --pool for the RSS measurement (40,000 ports; the "
          "server runs with --ephemeral=allow and skips busy ports).");

namespace portlease::bench {
namespace {

std::string Mb(int64_t kb) { return absl::StrFormat("%.1f MB", kb / 1024.0); }

// `store_cpu`: also the store processes' CPU per pair (the etcd rows).
void PrintRow(const char* target, const PhaseResult& r,
              bool store_cpu = false) {
  std::printf("%7d  %-9s  %9.0f  %9.1f  %9.1f  %9.0f  %7lld", r.clients,
              target, r.PairsPerSecond(), r.p50_us, r.p99_us,
              r.ServerCpuUsPerPair(), static_cast<long long>(r.errors));
  if (store_cpu) std::printf("  %9.0f", r.StoreCpuUsPerPair());
  std::printf("\n");
  if (!r.first_error.empty()) {
    std::printf("         first error: %s\n", r.first_error.c_str());
  }
}

struct Target {
  std::string what;
  std::optional<bool> pass;  // nullopt: not measured
  std::string measured;
};

// Parses a list of counts in [min, max]; nullopt (after saying why) when
// one is not.
std::optional<std::vector<int>> ParseCounts(
    const char* flag, const std::vector<std::string>& texts, int min,
    int max) {
  std::vector<int> counts;
  for (const std::string& text : texts) {
    int c = 0;
    if (!absl::SimpleAtoi(text, &c) || c < min || c > max) {
      std::fprintf(stderr, "portlease_load: bad --%s value %s (%d-%d)\n",
                   flag, text.c_str(), min, max);
      return std::nullopt;
    }
    counts.push_back(c);
  }
  return counts;
}

// The SQLite server's and the echo server's results of one client count,
// for the closing table.
struct BaseRows {
  PhaseResult sqlite;
  PhaseResult echo;
};

// Runs the etcd phase and prints, per client count, the echo floor, the
// SQLite server and every etcd set. False when the phase could not start.
bool RunEtcdReport(const std::vector<int>& client_counts,
                   const std::vector<int>& members,
                   const std::vector<int>& replicas,
                   const std::string& base_probe,
                   const std::map<int, BaseRows>& base, const TempDir& dir) {
  if (!EtcdPhaseAvailable()) {
    std::printf("\netcd phase skipped: %s\n",
                EtcdUnavailableMessage().c_str());
    return true;
  }
  EtcdPhaseOptions options;
  options.portleased = absl::GetFlag(FLAGS_portleased);
  options.clients = client_counts;
  options.duration = absl::GetFlag(FLAGS_duration);
  options.pool = absl::GetFlag(FLAGS_pool);
  options.port_pool = absl::GetFlag(FLAGS_etcd_port_pool);
  options.members.assign(members.begin(), members.end());
  options.replicas = replicas;
  absl::StatusOr<std::vector<EtcdPhaseResult>> results =
      RunEtcdPhases(options, dir);
  if (!results.ok()) {
    std::fprintf(stderr, "portlease_load: etcd phase did not start: %s\n",
                 results.status().ToString().c_str());
    return false;
  }
  const std::string sqlite_note =
      base_probe.empty()
          ? ""
          : absl::StrCat("; sqlite: the --probe=", base_probe, " rows above");
  std::printf(
      "\nstores side by side; etcdM/rN: M etcd members (loopback, short "
      "election timeouts), N portleased replicas --store=etcd --probe=none, "
      "client i on replica i mod N%s\n"
      "%s per phase, %d warm-up pairs per client; srv cpu: the portleased "
      "processes together, etcd cpu: the members together\n\n"
      "clients  target       pairs/s    p50 us    p99 us  srv cpu/pair us  "
      "errors  etcd cpu/pair us\n",
      sqlite_note.c_str(),
      absl::FormatDuration(absl::GetFlag(FLAGS_duration)).c_str(),
      kWarmupPairs);
  for (int clients : client_counts) {
    if (auto it = base.find(clients); it != base.end()) {
      PrintRow("echo", it->second.echo);
      PrintRow("sqlite", it->second.sqlite);
    }
    for (const EtcdPhaseResult& r : *results) {
      if (r.phase.clients == clients) {
        PrintRow(r.Label().c_str(), r.phase, /*store_cpu=*/true);
      }
    }
  }
  std::fflush(stdout);
  return true;
}

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

int Run(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "drives a real portleased and a bare gRPC echo server with the same "
      "clients (with --etcd also portleased replicas on an etcd cluster); "
      "prints latency, throughput, RSS and PASS/FAIL per target.");
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  const std::optional<std::vector<int>> parsed_clients =
      ParseCounts("clients", absl::GetFlag(FLAGS_clients), 1, 1024);
  const std::optional<std::vector<int>> etcd_members =
      ParseCounts("etcd_members", absl::GetFlag(FLAGS_etcd_members), 1, 5);
  const std::optional<std::vector<int>> etcd_replicas =
      ParseCounts("etcd_replicas", absl::GetFlag(FLAGS_etcd_replicas), 1, 16);
  if (!parsed_clients || !etcd_members || !etcd_replicas) return 2;
  const std::vector<int>& client_counts = *parsed_clients;
  bool run_sqlite = false, run_etcd = absl::GetFlag(FLAGS_etcd);
  for (const std::string& store : absl::GetFlag(FLAGS_stores)) {
    if (store == "sqlite") {
      run_sqlite = true;
    } else if (store == "etcd") {
      run_etcd = true;
    } else {
      std::fprintf(stderr,
                   "portlease_load: bad --stores value %s (sqlite, etcd)\n",
                   store.c_str());
      return 2;
    }
  }
  const std::vector<std::string> probes =
      run_sqlite ? absl::GetFlag(FLAGS_probes) : std::vector<std::string>();
  // The SQLite rows the etcd table repeats: the --probe=none run (the
  // replicas' mode) if there is one, else the first.
  std::string base_probe = probes.empty() ? "" : probes.front();
  for (const std::string& probe : probes) {
    if (probe == "none") base_probe = probe;
  }
  std::map<int, BaseRows> base_rows;
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
  for (const std::string& probe : probes) {
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
          duration, {server->pid()});
      PhaseResult bare = RunPhase(
          clients,
          [&](int) {
            return std::make_unique<EchoPairClient>(echo_address, sizes);
          },
          duration, {echo->pid()});
      std::optional<PhaseResult> busy;
      if (echo_busy) {
        busy = RunPhase(
            clients,
            [&](int) {
              return std::make_unique<EchoPairClient>(echo_address, sizes,
                                                      *echo_busy);
            },
            duration, {echo->pid()});
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
      if (probe == base_probe) base_rows[clients] = {lease, bare};
      if (probe == probes.front()) {
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

  if (run_etcd &&
      !RunEtcdReport(client_counts, *etcd_members, *etcd_replicas,
                     base_probe, base_rows, dir)) {
    return 1;
  }

  const int rss_leases = absl::GetFlag(FLAGS_rss_leases);
  if (rss_leases > 0 && run_sqlite) {
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
