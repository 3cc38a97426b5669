// portlease admin (force-release, drain, undrain, set-pool) and the status
// summary, against a real portleased with an admin token and a SQLite
// database in a temp dir, restarted where persistence is the point.
#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "portlease/client.h"
#include "tests/client/test_support.h"

namespace portlease::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "admin-cli-test-token-0123456789";

// The line of `text` starting with `prefix`, or "".
std::string LineStartingWith(const std::string& text, absl::string_view prefix) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, prefix)) return std::string(line);
  }
  return "";
}

// The lines after the line `heading`, up to the next empty line.
std::vector<std::string> Section(const std::string& text,
                                 absl::string_view heading) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  std::vector<std::string> out;
  bool in = false;
  for (const std::string& line : lines) {
    if (in && line.empty()) break;
    if (in) out.push_back(line);
    if (line == heading) in = true;
  }
  return out;
}

std::string FormatTime(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                          absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

class AdminCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(token_file_, absl::StrCat(kToken, "\n"));
    chmod(token_file_.c_str(), 0600);
    WriteFile(wrong_token_file_, "not-the-admin-token-at-all");
    chmod(wrong_token_file_.c_str(), 0600);
    StartServer();
    env_ = {{"PORTLEASE_ADDR", server_->address()},
            {"PORTLEASE_ADMIN_TOKEN_FILE", std::nullopt}};
  }

  // (Re)starts portleased on the same socket and database.
  void StartServer() {
    server_.reset();
    auto server = TestServer::Start(
        dir_.path(), {"--pool", "20000-20015", "--db", dir_.File("leases.db"),
                      "--cooldown=0s", "--admin_token_file", token_file_});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    client_ = std::make_unique<Client>(server_->address());
  }

  RunResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), PORTLEASE_BIN);
    return RunBinary(args, env_, dir_.path());
  }
  RunResult Admin(std::vector<std::string> args) {
    args.insert(args.begin(), "admin");
    args.push_back("--admin-token-file=" + token_file_);
    return Cli(std::move(args));
  }

  v1::Lease MustAcquire(uint32_t count, OwnerMetadata owner = {}) {
    AcquireSpec spec;
    spec.count = count;
    spec.ttl = absl::Minutes(5);
    spec.owner = std::move(owner);
    absl::StatusOr<v1::Lease> lease = client_->Acquire(spec);
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? *lease : v1::Lease();
  }
  std::string PoolState(uint32_t port) {
    absl::StatusOr<v1::WhoResponse> who = client_->Who({port});
    if (!who.ok() || who->ports_size() != 1) return "?";
    return who->ports(0).pool_state();
  }

  TempDir dir_;
  const std::string token_file_ = dir_.File("admin-token");
  const std::string wrong_token_file_ = dir_.File("wrong-token");
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<Client> client_;
  EnvChanges env_;
};

TEST_F(AdminCliTest, SetPoolReplacesThePool) {
  RunResult r = Admin({"set-pool", "--pool", "20100-20107", "--exclude",
                       "20107"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("pool 20100-20107 (7 ports), excluding 20107"));
  EXPECT_THAT(r.out, HasSubstr("runtime only"));
  absl::StatusOr<v1::StatusResponse> status = client_->Status();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->pool_size(), 7u);
  EXPECT_EQ(MustAcquire(7).base_port(), 20100u);
  AcquireSpec one;
  one.count = 1;
  one.ttl = absl::Minutes(1);
  EXPECT_EQ(client_->Acquire(one).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(PoolState(20000), "outside-pool");
  EXPECT_EQ(PoolState(20107), "excluded");
  // JSON is the server's answer.
  r = Admin({"set-pool", "--pool=20000-20015", "--format=json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"pool\": \"20000-20015\""));
  EXPECT_THAT(r.out, HasSubstr("\"pool_size\": 16"));
  // The 7-port lease now lies outside the pool.
  EXPECT_THAT(r.out, HasSubstr("\"leases_outside_pool\": 1"));
  // status: the bar shows the pool's own ports (none in use), and names the
  // 7 leased ports outside it.
  r = Cli({"status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(LineStartingWith(r.out, "leased:"), "leased:             7");
  EXPECT_EQ(LineStartingWith(r.out, "["),
            absl::StrCat("[", std::string(40, '.'),
                         "]   0% in use (# leased, + quarantined, ~ draining, "
                         "! busy, x disabled, . free); 7 more outside the "
                         "pool (it was changed)"));
}

TEST_F(AdminCliTest, InvalidPoolIsRefusedAndChangesNothing) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"set-pool", "--pool", "20200-20100"},
           {"set-pool", "--pool", "6379"},
           {"set-pool", "--pool", "20000-20010,20005-20020"},
           {"set-pool", "--pool", "20000-20010", "--exclude", "x"}}) {
    RunResult r = Admin(args);
    EXPECT_EQ(r.exit_code, 2) << args[2] << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("portlease: "));
  }
  RunResult missing = Admin({"set-pool"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("--pool"));
  absl::StatusOr<v1::StatusResponse> status = client_->Status();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->pool_size(), 16u);
  EXPECT_EQ(MustAcquire(16).base_port(), 20000u);
}

TEST_F(AdminCliTest, WrongOrMissingTokenIsRefusedWithoutShowingIt) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"admin", "set-pool", "--pool", "20100-20107"},
           {"admin", "drain", "20001"},
           {"admin", "undrain", "20001"},
           {"admin", "force-release", "20001"}}) {
    std::vector<std::string> wrong = args;
    wrong.push_back("--admin-token-file=" + wrong_token_file_);
    RunResult r = Cli(wrong);
    EXPECT_EQ(r.exit_code, 77) << args[1] << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("permission denied"));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_THAT(r.err + r.out, Not(HasSubstr("not-the-admin-token")));

    RunResult none = Cli(args);
    EXPECT_EQ(none.exit_code, 77) << args[1];
    EXPECT_THAT(none.err, HasSubstr("PORTLEASE_ADMIN_TOKEN_FILE"));
  }
  RunResult unreadable =
      Cli({"admin", "drain", "20001", "--admin-token-file", dir_.File("nope")});
  EXPECT_EQ(unreadable.exit_code, 77);
  EXPECT_THAT(unreadable.err, HasSubstr("cannot read the admin token file"));
  // A file that is not a token (here: several lines) is refused before
  // anything is sent, and its content is not shown.
  WriteFile(dir_.File("not-a-token"), "first line\nsecond line\n");
  RunResult garbage = Cli({"admin", "drain", "20001", "--admin-token-file",
                           dir_.File("not-a-token")});
  EXPECT_EQ(garbage.exit_code, 77);
  EXPECT_THAT(garbage.err, HasSubstr("does not hold a token"));
  EXPECT_THAT(garbage.err, Not(HasSubstr("second line")));
  // Nothing changed, and the client library is refused too.
  EXPECT_EQ(PoolState(20001), "free");
  EXPECT_EQ(client_->SetPool("20100-20107", "", "").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(client_->Status()->pool_size(), 16u);
  // The environment variable works as the flag does; the token stays unseen.
  env_["PORTLEASE_ADMIN_TOKEN_FILE"] = token_file_;
  RunResult r = Cli({"admin", "drain", "20001"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out + r.err, Not(HasSubstr(kToken)));
  EXPECT_THAT(ReadFileOrEmpty(dir_.File("server.log")), Not(HasSubstr(kToken)));
}

TEST_F(AdminCliTest, LeaseOutsideTheNewPoolStaysValidAndItsPortIsNotRegranted) {
  v1::Lease a = MustAcquire(2);
  ASSERT_EQ(a.base_port(), 20000u);
  RunResult r = Admin({"set-pool", "--pool", "20001-20015"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("pool 20001-20015 (15 ports)"));
  EXPECT_THAT(r.out, HasSubstr("1 live lease(s) hold ports outside the new pool"));
  // Still valid: renew and get work, Who shows it.
  EXPECT_TRUE(client_->Renew(a.lease_id()).ok());
  EXPECT_TRUE(client_->Get(a.lease_id()).ok());
  EXPECT_EQ(PoolState(20000), "leased");
  ASSERT_TRUE(client_->Release(a.lease_id()).ok());
  EXPECT_EQ(PoolState(20000), "outside-pool");
  // The whole new pool, and never 20000.
  EXPECT_EQ(MustAcquire(15).base_port(), 20001u);
  AcquireSpec one;
  one.count = 1;
  one.ttl = absl::Minutes(1);
  EXPECT_EQ(client_->Acquire(one).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(AdminCliTest, DrainedPortsSurviveARestartAndSoDoesUndrain) {
  RunResult r = Admin({"drain", "20003", "20004"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("port 20003 drained"));
  EXPECT_THAT(r.out, HasSubstr("port 20004 drained"));
  StartServer();
  EXPECT_EQ(PoolState(20003), "disabled");
  EXPECT_EQ(PoolState(20004), "disabled");
  // The log is written by a thread of its own: poll for the line.
  EXPECT_TRUE(PollUntil(
      [&] {
        return absl::StrContains(ReadFileOrEmpty(dir_.File("server.log")),
                                 "2 pool ports stay drained");
      },
      absl::Seconds(5)))
      << ReadFileOrEmpty(dir_.File("server.log"));
  absl::StatusOr<v1::StatusResponse> status = client_->Status();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->disabled(), 2u);
  EXPECT_EQ(status->free(), 14u);
  // Never granted: the 14 free ports are all there is.
  for (int i = 0; i < 14; ++i) {
    v1::Lease lease = MustAcquire(1);
    EXPECT_NE(lease.base_port(), 20003u);
    EXPECT_NE(lease.base_port(), 20004u);
  }
  r = Admin({"undrain", "20003", "--format=json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"undrained\": [20003]}\n");
  StartServer();
  EXPECT_EQ(PoolState(20003), "free");
  EXPECT_EQ(PoolState(20004), "disabled");
  EXPECT_EQ(client_->Status()->disabled(), 1u);
}

TEST_F(AdminCliTest, DrainRefusesPortsOutsideThePool) {
  RunResult r = Admin({"drain", "19999"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("not in the pool"));
  r = Admin({"drain", "http"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("not a port number"));
  r = Admin({"drain"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("usage: portlease admin drain PORT..."));
}

TEST_F(AdminCliTest, ForceReleaseByPortOrByIdPrefix) {
  v1::Lease a = MustAcquire(2, {{"user", "alice"}, {"host", "h1"}});
  v1::Lease b = MustAcquire(3, {{"user", "bob"}, {"host", "h2"}});
  RunResult r = Admin({"force-release", absl::StrCat(a.base_port() + 1)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, absl::StrCat("force-released lease ", a.lease_id_prefix(),
                                " (ports 20000-20001) held by alice@h1\n"));
  EXPECT_EQ(client_->Get(a.lease_id()).status().code(),
            absl::StatusCode::kNotFound);
  r = Admin({"force-release", b.lease_id_prefix(), "--format=json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("\"lease_id_prefix\": \"",
                                            b.lease_id_prefix(), "\"")));
  EXPECT_THAT(r.out, Not(HasSubstr(b.lease_id())));
  EXPECT_EQ(client_->Get(b.lease_id()).status().code(),
            absl::StatusCode::kNotFound);
  // Nothing left to end.
  r = Admin({"force-release", "20001"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no live lease holds port 20001"));
  r = Admin({"force-release", "abc"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("at least 8 characters"));
}

TEST_F(AdminCliTest, UnknownAdminCommandIsAUsageError) {
  RunResult r = Admin({"reboot"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown admin command \"reboot\""));
  RunResult help = Cli({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("admin set-pool --pool RANGES"));
  EXPECT_THAT(help.out, HasSubstr("PORTLEASE_ADMIN_TOKEN_FILE"));
}

// portlease status: the counters, the utilisation bar, the top owners and
// the oldest leases, with numbers worked out by hand.
TEST_F(AdminCliTest, StatusShowsUtilisationTopOwnersAndOldestLeases) {
  v1::Lease oldest = MustAcquire(4, {{"user", "alice"}, {"host", "h1"}});
  // Let the wall clock pass a second, so "oldest" has one right answer.
  ASSERT_TRUE(PollUntil(
      [&] { return absl::ToUnixSeconds(absl::Now()) > oldest.created_at().seconds(); },
      absl::Seconds(3)));
  v1::Lease bob = MustAcquire(2, {{"user", "bob"}, {"host", "h2"}});
  v1::Lease alice2 = MustAcquire(2, {{"user", "alice"}, {"host", "h1"}});
  ASSERT_EQ(Admin({"drain", "20015"}).exit_code, 0);

  RunResult r = Cli({"status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(LineStartingWith(r.out, "pool size:"), "pool size:          16");
  EXPECT_EQ(LineStartingWith(r.out, "free:"), "free:               7");
  EXPECT_EQ(LineStartingWith(r.out, "leased:"), "leased:             8");
  EXPECT_EQ(LineStartingWith(r.out, "live leases:"), "live leases:        3");
  EXPECT_EQ(LineStartingWith(r.out, "disabled:"), "disabled:           1");
  // 40 cells: 8 of 16 leased is 20 '#', 1 disabled is 2.5 -> 3 'x', the rest
  // free; 9 of 16 ports are not free: 56%.
  EXPECT_EQ(LineStartingWith(r.out, "["),
            absl::StrCat("[", std::string(20, '#'), std::string(3, 'x'),
                         std::string(17, '.'),
                         "]  56% in use (# leased, + quarantined, ~ draining, "
                         "! busy, x disabled, . free)"));
  // Most ports first: alice 6 ports in 2 leases, bob 2 in 1.
  EXPECT_THAT(Section(r.out, "top owners (ports, leases):"),
              ::testing::ElementsAre("      6    2  alice@h1",
                                     "      2    1  bob@h2"));
  std::vector<std::string> old = Section(r.out, "oldest leases:");
  ASSERT_EQ(old.size(), 3u) << r.out;
  EXPECT_EQ(old[0], absl::StrCat("  ", oldest.lease_id_prefix(), "  since ",
                                 FormatTime(oldest.created_at()),
                                 "  alice@h1"));
  for (const v1::Lease* lease : {&bob, &alice2}) {
    EXPECT_THAT(old, ::testing::Contains(HasSubstr(absl::StrCat(
                         "  ", lease->lease_id_prefix(), "  since ",
                         FormatTime(lease->created_at())))));
  }
  // No lease: no owner or lease sections, an empty bar but the disabled port.
  for (const v1::Lease* lease : {&oldest, &bob, &alice2}) {
    ASSERT_TRUE(client_->Release(lease->lease_id()).ok());
  }
  r = Cli({"status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(LineStartingWith(r.out, "["),
            absl::StrCat("[", std::string(3, 'x'), std::string(37, '.'),
                         "]   6% in use (# leased, + quarantined, ~ draining, "
                         "! busy, x disabled, . free)"));
  EXPECT_THAT(r.out, Not(HasSubstr("top owners")));
  EXPECT_THAT(r.out, Not(HasSubstr("oldest leases")));
}

}  // namespace
}  // namespace portlease::testing
