// DaemonConfigFromFlags: each flag read into its typed field, checked in a
// fixed order with the messages and exit codes portleased has always used.
#include "server/daemon/daemon_config.h"

#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/claims/host_claims.h"
#include "server/daemon/daemon_flags.h"
#include "tests/server/test_util.h"

namespace portlease {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A /proc with the kernel's ephemeral range `range` ("" : no such file).
class FakeProc {
 public:
  explicit FakeProc(const std::string& range) {
    if (range.empty()) return;
    mkdir(dir_.File("sys").c_str(), 0755);
    mkdir(dir_.File("sys/net").c_str(), 0755);
    mkdir(dir_.File("sys/net/ipv4").c_str(), 0755);
    std::ofstream(dir_.File("sys/net/ipv4/ip_local_port_range")) << range;
  }
  DaemonHost Host(uint64_t fd_soft = 1 << 16) const {
    DaemonHost host;
    host.proc_root = dir_.path();
    host.fd_limit = {fd_soft, fd_soft, fd_soft};
    return host;
  }

 private:
  TempDir dir_;
};

absl::StatusOr<DaemonConfig> ConfigWith(const std::string& range = "32768\t60999") {
  return DaemonConfigFromFlags(FakeProc(range).Host());
}

TEST(DaemonConfigTest, DefaultsMatchTheFlagTable) {
  absl::FlagSaver saver;
  absl::StatusOr<DaemonConfig> config = ConfigWith();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->listen, ElementsAre("unix:/run/portlease/portleased.sock"));
  ASSERT_EQ(config->listen_addresses.size(), 1u);
  EXPECT_FALSE(config->listen_addresses[0].is_tcp());
  ASSERT_EQ(config->pool.size(), 1u);
  EXPECT_EQ(config->pool[0].lo, 20000);
  EXPECT_EQ(config->pool[0].hi, 29999);
  EXPECT_TRUE(config->exclude.empty());
  EXPECT_EQ(config->pool_fit.policy, EphemeralPolicy::kRefuse);
  EXPECT_EQ(config->pool_fit.always_exclude,
            (std::vector<Port>{6379, 7001, 8080, 8081, 9090}));
  EXPECT_EQ(config->pool_size, 10000u);
  EXPECT_EQ(config->db, "/var/lib/portlease/leases.db");
  EXPECT_TRUE(config->durable);
  EXPECT_FALSE(config->reserve_pool);
  EXPECT_EQ(config->db_sync, StoreSync::kNormal);
  EXPECT_EQ(config->probe, ProbeMode::kSystem);
  EXPECT_EQ(config->claims_dir, kDefaultClaimsDir);
  EXPECT_EQ(config->log_level, LogLevel::kInfo);
  EXPECT_EQ(config->max_message_bytes, 64 * 1024);
  EXPECT_EQ(config->rate_limit, 200);
  EXPECT_EQ(config->rate_burst, 400);
  EXPECT_EQ(config->max_streams, 100u);
  EXPECT_EQ(config->max_leases_per_owner, 256u);
  EXPECT_EQ(config->max_waiters, 1024u);
  EXPECT_EQ(config->ready_fd, -1);
  EXPECT_EQ(config->idle_exit, absl::ZeroDuration());
  EXPECT_TRUE(config->admin_token.empty());
  EXPECT_FALSE(config->metrics_listen.has_value());
}

TEST(DaemonConfigTest, ListenJoinsRepeatsAndCommas) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_listen,
                std::vector<std::string>{"unix:/tmp/a,unix:/tmp/b", "127.0.0.1:0"});
  absl::StatusOr<DaemonConfig> config = ConfigWith();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->listen,
              ElementsAre("unix:/tmp/a", "unix:/tmp/b", "127.0.0.1:0"));
  ASSERT_EQ(config->listen_addresses.size(), 3u);
  EXPECT_TRUE(config->listen_addresses[2].is_tcp());
}

TEST(DaemonConfigTest, DbSyncProbeAndEphemeralAreEnums) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_db_sync, "full");
  absl::SetFlag(&FLAGS_probe, "none");
  absl::SetFlag(&FLAGS_ephemeral, "trim");
  absl::SetFlag(&FLAGS_db, ":memory:");
  absl::StatusOr<DaemonConfig> config = ConfigWith();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->db_sync, StoreSync::kFull);
  EXPECT_EQ(config->probe, ProbeMode::kNone);
  EXPECT_EQ(config->pool_fit.policy, EphemeralPolicy::kTrim);
  EXPECT_FALSE(config->durable);
}

TEST(DaemonConfigTest, StoreIsSqliteUnlessMemoryNodurableOrEtcd) {
  absl::FlagSaver saver;
  absl::StatusOr<DaemonConfig> config = ConfigWith();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->store, StoreKind::kSqlite);
  absl::SetFlag(&FLAGS_durable, false);
  config = ConfigWith();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->store, StoreKind::kMemory);
  EXPECT_FALSE(config->durable);
  absl::SetFlag(&FLAGS_durable, true);
  absl::SetFlag(&FLAGS_store, "memory");
  config = ConfigWith();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->store, StoreKind::kMemory);
  EXPECT_FALSE(config->durable);
  absl::SetFlag(&FLAGS_store, "redis");
  config = ConfigWith();
  EXPECT_EQ(DaemonExitCode(config.status()), 2);
  EXPECT_EQ(config.status().message(),
            "--store=redis: expected sqlite, memory or etcd");
}

// --store=etcd with the flags a replica needs.
void SetReplicaFlags() {
  absl::SetFlag(&FLAGS_store, "etcd");
  absl::SetFlag(&FLAGS_etcd_endpoints, "http://127.0.0.1:1,http://127.0.0.1:2");
  absl::SetFlag(&FLAGS_pool_host, "pool-machine");
}

absl::StatusOr<DaemonConfig> ReplicaConfigOn(const std::string& hostname) {
  FakeProc proc("32768\t60999");
  DaemonHost host = proc.Host();
  host.hostname = hostname;
  return DaemonConfigFromFlags(host);
}

TEST(DaemonConfigTest, EtcdStoreReadsTheClusterAndProbesOnlyOnThePoolHost) {
  absl::FlagSaver saver;
  SetReplicaFlags();
  absl::StatusOr<DaemonConfig> config = ReplicaConfigOn("pool-machine");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->store, StoreKind::kEtcd);
  EXPECT_FALSE(config->durable);
  EXPECT_THAT(config->etcd_endpoints,
              ElementsAre("http://127.0.0.1:1", "http://127.0.0.1:2"));
  EXPECT_EQ(config->etcd_prefix, "/portlease/");
  EXPECT_TRUE(config->probe_pool);
  EXPECT_EQ(config->claims_dir, "");
  EXPECT_THAT(config->claims_off_reason, HasSubstr("--store=etcd"));
  EXPECT_TRUE(config->warnings.empty());
  config = ReplicaConfigOn("another-machine");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->probe_pool);
}

TEST(DaemonConfigTest, EtcdStoreNeedsEndpointsAndAPoolHostUnlessProbeNone) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_store, "etcd");
  absl::StatusOr<DaemonConfig> config = ReplicaConfigOn("h");
  EXPECT_EQ(DaemonExitCode(config.status()), 2);
  EXPECT_EQ(config.status().message(),
            "--store=etcd needs --etcd-endpoints=URL[,URL...]");
  absl::SetFlag(&FLAGS_etcd_endpoints, "http://127.0.0.1:1");
  config = ReplicaConfigOn("h");
  EXPECT_EQ(DaemonExitCode(config.status()), 2);
  EXPECT_THAT(config.status().message(), HasSubstr("--pool-host=NAME"));
  EXPECT_THAT(config.status().message(), HasSubstr("--probe=none"));
  absl::SetFlag(&FLAGS_probe, "none");
  config = ReplicaConfigOn("h");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->probe_pool);
  absl::SetFlag(&FLAGS_etcd_cert, "client.pem");
  config = ReplicaConfigOn("h");
  EXPECT_EQ(config.status().message(),
            "--etcd-cert and --etcd-key go together");
}

TEST(DaemonConfigTest, EtcdStoreRefusesHostFlagsAndWarnsOfSqliteFlags) {
  absl::FlagSaver saver;
  SetReplicaFlags();
  absl::SetFlag(&FLAGS_reserve_pool, "on");
  absl::StatusOr<DaemonConfig> config = ReplicaConfigOn("h");
  EXPECT_EQ(DaemonExitCode(config.status()), 2);
  EXPECT_THAT(config.status().message(), HasSubstr("--reserve-pool=on"));
  absl::SetFlag(&FLAGS_reserve_pool, "off");
  absl::SetFlag(&FLAGS_portserver_listen, std::vector<std::string>{"@ps"});
  config = ReplicaConfigOn("h");
  EXPECT_EQ(DaemonExitCode(config.status()), 2);
  EXPECT_THAT(config.status().message(), HasSubstr("--portserver-listen"));
  absl::SetFlag(&FLAGS_portserver_listen, std::vector<std::string>{});
  absl::SetFlag(&FLAGS_db, "/tmp/x.db");
  absl::SetFlag(&FLAGS_recovery_window, "5s");
  config = ReplicaConfigOn("h");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->warnings,
              ElementsAre(HasSubstr("--db is ignored"),
                          HasSubstr("--recovery-window is ignored")));
}

TEST(DaemonConfigTest, EtcdFlagsNeedTheEtcdStore) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_pool_host, "h");
  absl::StatusOr<DaemonConfig> config = ConfigWith();
  EXPECT_EQ(DaemonExitCode(config.status()), 2);
  EXPECT_EQ(config.status().message(),
            "--etcd-* and --pool-host need --store=etcd");
}

TEST(DaemonConfigTest, ClaimsDirFollowsProbe) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_probe, "none");
  absl::StatusOr<DaemonConfig> config = ConfigWith();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->claims_dir, "");
  EXPECT_EQ(config->claims_off_reason, "--probe=none trusts the pool");
  absl::SetFlag(&FLAGS_claims_dir, "off");
  config = ConfigWith();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->claims_off_reason, "--claims-dir=off");
  absl::SetFlag(&FLAGS_claims_dir, "/tmp/claims");
  config = ConfigWith();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->claims_dir, "/tmp/claims");
}

TEST(DaemonConfigTest, RecoveryWindowUnsetIsTwiceHoldGrace) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_hold_grace, absl::Seconds(3));
  absl::StatusOr<DaemonConfig> config = ConfigWith();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->recovery_window, absl::Seconds(6));
  absl::SetFlag(&FLAGS_recovery_window, "0s");
  config = ConfigWith();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->recovery_window, absl::ZeroDuration());
}

TEST(DaemonConfigTest, PortShareIsATenthOfTheSpan) {
  absl::FlagSaver saver;
  absl::StatusOr<DaemonConfig> config = ConfigWith();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->max_ports_per_owner, 1000u);
}

TEST(DaemonConfigTest, MaxConnectionsMustFitTheFdLimit) {
  absl::FlagSaver saver;
  FakeProc proc("32768 60999");
  absl::StatusOr<DaemonConfig> config = DaemonConfigFromFlags(proc.Host(64));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->max_connections, 32u);
  EXPECT_EQ(config->fd_limit.soft, 64u);
  absl::SetFlag(&FLAGS_max_connections, 33);
  config = DaemonConfigFromFlags(proc.Host(64));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(),
              HasSubstr("--max-connections=33 does not fit"));
}

TEST(DaemonConfigTest, UnreadableEphemeralRangeIsRuntimeUnlessAllow) {
  absl::FlagSaver saver;
  for (const std::string range : {"", "garbage"}) {
    absl::StatusOr<DaemonConfig> config = ConfigWith(range);
    EXPECT_EQ(config.status().code(), absl::StatusCode::kFailedPrecondition)
        << range;
    EXPECT_THAT(config.status().message(),
                HasSubstr("cannot read the ephemeral port range: "));
    EXPECT_THAT(config.status().message(),
                HasSubstr("(pass --ephemeral=allow to start anyway)"));
    EXPECT_EQ(DaemonExitCode(config.status()), 1);
  }
  absl::SetFlag(&FLAGS_ephemeral, "allow");
  absl::StatusOr<DaemonConfig> config = ConfigWith("");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->pool_fit.ephemeral.lo, 0);
  EXPECT_EQ(config->pool_fit.ephemeral.hi, 0);
}

TEST(DaemonConfigTest, TlsFilesAreRuntimeErrors) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_tls_cert, "/no/such/cert.pem");
  absl::SetFlag(&FLAGS_tls_key, "/no/such/key.pem");
  absl::StatusOr<DaemonConfig> config = ConfigWith();
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(config.status().message(),
            "--tls_cert=/no/such/cert.pem: cannot read the file");
  EXPECT_EQ(DaemonExitCode(config.status()), 1);
}

// One row per usage error: the flag set, and the message portleased prints.
struct BadValue {
  void (*set)();
  std::string message;
};

TEST(DaemonConfigTest, BadValuesAreUsageErrorsWithTodaysMessages) {
  const std::vector<BadValue> rows = {
      {[] { absl::SetFlag(&FLAGS_listen, std::vector<std::string>{}); },
       "--listen is empty"},
      {[] { absl::SetFlag(&FLAGS_ephemeral, "maybe"); },
       "--ephemeral=maybe: expected refuse, trim or allow"},
      {[] { absl::SetFlag(&FLAGS_reserve_pool, "yes"); },
       "--reserve-pool=yes: expected off or on"},
      {[] { absl::SetFlag(&FLAGS_db_sync, "fast"); },
       "--db-sync=fast: expected normal or full"},
      {[] { absl::SetFlag(&FLAGS_probe, "all"); },
       "--probe=all: expected system or none"},
      {[] { absl::SetFlag(&FLAGS_idle_exit, absl::Seconds(-1)); },
       "--idle-exit must not be negative"},
      {[] { absl::SetFlag(&FLAGS_recovery_window, "soon"); },
       "--recovery-window=soon: expected a duration like 4s"},
      {[] { absl::SetFlag(&FLAGS_tls_key, "key.pem"); },
       "--tls-cert and --tls-key go together, and --tls-client-ca needs "
       "them"},
      {[] { absl::SetFlag(&FLAGS_metrics_listen, "unix:/tmp/m"); },
       "--metrics-listen=unix:/tmp/m: expected HOST:PORT"},
      {[] { absl::SetFlag(&FLAGS_max_message_bytes, 100); },
       "--max-message-bytes must be at least 1024"},
      {[] { absl::SetFlag(&FLAGS_rate_burst, 0.5); },
       "--rate-limit must be >= 0 and --rate-burst >= 1"},
  };
  for (const BadValue& row : rows) {
    absl::FlagSaver saver;
    row.set();
    absl::StatusOr<DaemonConfig> config = ConfigWith();
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument)
        << row.message;
    EXPECT_EQ(config.status().message(), row.message);
    EXPECT_EQ(DaemonExitCode(config.status()), 2);
  }
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_pool, "1-2-3");
  EXPECT_THAT(ConfigWith().status().message(), HasSubstr("--pool: "));
  absl::SetFlag(&FLAGS_pool, "20000-29999");
  absl::SetFlag(&FLAGS_exclude, "x");
  EXPECT_THAT(ConfigWith().status().message(), HasSubstr("--exclude: "));
}

TEST(DaemonConfigTest, PoolSizeHonoursBothExcludeLists) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_pool, "8079-8082");
  absl::SetFlag(&FLAGS_exclude, "8079");
  absl::StatusOr<DaemonConfig> config = ConfigWith();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->pool_size, 1u);  // 8080 and 8081 are always excluded
  absl::SetFlag(&FLAGS_always_exclude, "");
  config = ConfigWith();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->pool_size, 3u);
  absl::SetFlag(&FLAGS_exclude, "8079-8082");
  config = ConfigWith();
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(config.status().message(),
            "the pool '8079-8082' has no port left once the excluded ports "
            "are taken out");
  absl::SetFlag(&FLAGS_always_exclude, "x");
  EXPECT_THAT(ConfigWith().status().message(), HasSubstr("--always-exclude: "));
}

TEST(DaemonConfigTest, APoolInTheEphemeralRangeNamesTheFlagThatTrimsIt) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_pool, "30000-40000");
  absl::StatusOr<DaemonConfig> config = ConfigWith();
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(),
              HasSubstr("choose a pool outside it, or pass --ephemeral=trim "
                        "to cut the overlap out"));
  EXPECT_THAT(config.status().message(),
              HasSubstr("or --ephemeral=allow with --reserve-pool=on, which "
                        "makes the overlap safe"));
  EXPECT_FALSE(config.ok());
  absl::SetFlag(&FLAGS_ephemeral, "allow");
  absl::SetFlag(&FLAGS_reserve_pool, "on");
  config = ConfigWith();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->reserve_pool);
  EXPECT_EQ(FormatPortRanges(config->pool), "30000-40000");
  absl::SetFlag(&FLAGS_reserve_pool, "off");
  absl::SetFlag(&FLAGS_ephemeral, "trim");
  config = ConfigWith();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(FormatPortRanges(config->pool), "30000-32767");
  EXPECT_EQ(config->pool_size, 2768u);
}

// The first bad flag wins, in the order the checks have always run.
TEST(DaemonConfigTest, ChecksKeepTheirOrder) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_rate_burst, 0.5);
  absl::SetFlag(&FLAGS_probe, "all");
  absl::SetFlag(&FLAGS_db_sync, "fast");
  EXPECT_EQ(ConfigWith().status().message(),
            "--db-sync=fast: expected normal or full");
}

std::string ReadSource(const std::string& name) {
  std::ifstream in(std::string(PORTLEASE_DAEMON_SOURCE_DIR) + "/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t Count(const std::string& text, const std::string& pattern) {
  const std::regex re(pattern);
  return static_cast<size_t>(std::distance(
      std::sregex_iterator(text.begin(), text.end(), re),
      std::sregex_iterator()));
}

TEST(DaemonConfigTest, PortserverIsOffByDefaultAndTakesAList) {
  absl::FlagSaver saver;
  absl::StatusOr<DaemonConfig> config = ConfigWith();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->portserver_listen.empty());
  EXPECT_EQ(config->portserver_ttl, absl::Hours(24));
  absl::SetFlag(&FLAGS_portserver_listen,
                {"@portserver-1000,/run/portlease/portserver.sock"});
  absl::SetFlag(&FLAGS_portserver_ttl, "2h");
  config = ConfigWith();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->portserver_listen,
              ElementsAre("@portserver-1000", "/run/portlease/portserver.sock"));
  EXPECT_EQ(config->portserver_ttl, absl::Hours(2));
  absl::SetFlag(&FLAGS_portserver_listen, {"@"});
  EXPECT_TRUE(absl::IsInvalidArgument(ConfigWith().status()));
}

TEST(DaemonConfigTest, PortserverTtlMustFitMaxTtl) {
  absl::FlagSaver saver;
  // Unset, it follows a shorter --max-ttl.
  absl::SetFlag(&FLAGS_max_ttl, absl::Hours(1));
  absl::StatusOr<DaemonConfig> config = ConfigWith();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->portserver_ttl, absl::Hours(1));
  absl::SetFlag(&FLAGS_max_ttl, absl::Hours(24));
  absl::SetFlag(&FLAGS_portserver_ttl, "48h");
  config = ConfigWith();
  ASSERT_TRUE(absl::IsInvalidArgument(config.status()));
  EXPECT_THAT(config.status().message(),
              HasSubstr("--portserver-ttl=48h must be between 1s and "
                        "--max-ttl=24h"));
  absl::SetFlag(&FLAGS_max_ttl, absl::Hours(48));
  EXPECT_TRUE(ConfigWith().ok());
  absl::SetFlag(&FLAGS_portserver_ttl, "soon");
  EXPECT_TRUE(absl::IsInvalidArgument(ConfigWith().status()));
}

TEST(DaemonConfigTest, EveryFlagIsReadOnce) {
  const std::string flags = ReadSource("daemon_flags.cc");
  const std::string config = ReadSource("daemon_config.cc");
  ASSERT_FALSE(flags.empty());
  const size_t defined = Count(flags, R"(\bABSL_FLAG\()");
  EXPECT_EQ(defined, 45u);
  EXPECT_EQ(Count(config, R"(absl::GetFlag\(FLAGS_)"), defined);
  const std::regex name(R"(\bABSL_FLAG\([^,]+(?:<[^>]*>)?,\s*(\w+),)");
  for (std::sregex_iterator it(flags.begin(), flags.end(), name), end;
       it != end; ++it) {
    EXPECT_EQ(Count(config, "GetFlag\\(FLAGS_" + (*it)[1].str() + "\\)"), 1u)
        << (*it)[1].str();
  }
}

}  // namespace
}  // namespace portlease
