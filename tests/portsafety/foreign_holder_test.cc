// A real portlease server (in process, SystemProber on the live host) never
// grants a port that another socket holds, whatever the kind of hold, and
// grants it again once the holder lets go and the busy back-off has passed.
//
// Each test holds a port P it leased from the suite's portleased and serves
// a pool of just P, so P is the only port the allocator could choose.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/portsafety/portsafety_support.h"
#include "tests/support/test_ports.h"

namespace portlease::portsafety {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::portlease::testing::LeasedPorts;
using ::portlease::testing::Scaled;

// How long the tests keep asking while the holder holds: several busy
// back-offs, so every re-probe after a back-off is covered.
constexpr absl::Duration kHeldSpan = absl::Milliseconds(1000);
// How long a freed port may take to be granted (back-off plus ticks, with
// room for a loaded machine; AcquireWithin multiplies it by the build's
// time factor).
constexpr absl::Duration kRegrant = absl::Seconds(10);

struct HolderCase {
  std::string name;
  absl::StatusOr<ForeignHolder> (*open)(Port);
  // The lease asks for UDP too.
  bool udp = false;
};

class ForeignHolderTest : public ::testing::TestWithParam<HolderCase> {};

TEST_P(ForeignHolderTest, NeverGrantedWhileHeldGrantedAfter) {
  const HolderCase& c = GetParam();
  const LeasedPorts leased(2);  // TimeWait's connection uses the second
  absl::StatusOr<ForeignHolder> holder = c.open(leased.base());
  if (absl::IsUnimplemented(holder.status())) GTEST_SKIP() << holder.status();
  ASSERT_TRUE(holder.ok()) << holder.status();
  const Port port = holder->port;
  ProbingServer server({PortRange{port, port}});

  absl::StatusOr<v1::Lease> held =
      AcquireRepeatedly(server.client(), c.udp, kHeldSpan);
  ASSERT_FALSE(held.ok()) << "port " << port << " granted while held ("
                          << c.name << ")";
  EXPECT_TRUE(absl::IsResourceExhausted(held.status())) << held.status();
  EXPECT_THAT(held.status().message(), HasSubstr("1 bound by other processes"));
  EXPECT_THAT(server.Events(), Contains(absl::StrCat("foreign-busy ", port)));

  absl::StatusOr<v1::WhoResponse> who = server.client().Who({port});
  ASSERT_TRUE(who.ok()) << who.status();
  ASSERT_EQ(who->ports_size(), 1);
  // Busy, or free again between a back-off's end and the next probe.
  EXPECT_THAT((std::vector<std::string>{"busy", "free"}),
              Contains(who->ports(0).pool_state()));

  ASSERT_TRUE(Release(&*holder).ok());
  const absl::Time released = absl::Now();
  absl::StatusOr<v1::Lease> lease =
      AcquireWithin(server.client(), c.udp, kRegrant);
  ASSERT_TRUE(lease.ok()) << lease.status() << " (" << c.name << ")";
  EXPECT_EQ(lease->base_port(), port);
  EXPECT_LE(absl::Now() - released, kBusyBackoff + Scaled(absl::Seconds(5)));
}

INSTANTIATE_TEST_SUITE_P(
    Holders, ForeignHolderTest,
    ::testing::Values(HolderCase{"ListenLoopbackV4", &ListenOnLoopback},
                      HolderCase{"ListenAnyV4", &ListenOnAnyV4},
                      HolderCase{"ListenDualStack", &ListenDualStack},
                      HolderCase{"UdpOnlyWithUdpRequested", &UdpOnly, true},
                      HolderCase{"BoundNotListening", &BoundNotListening},
                      HolderCase{"BoundNotListeningReuseAddress",
                                 &BoundNotListeningReuseAddress},
                      HolderCase{"TimeWait", &TimeWait},
                      // The TCP checks see UDP requests' sockets too.
                      HolderCase{"ListenLoopbackV4WithUdp", &ListenOnLoopback,
                                 true}),
    [](const ::testing::TestParamInfo<HolderCase>& info) {
      return info.param.name;
    });

// UDP is probed only when asked for: a port held for UDP alone is granted
// to a TCP lease, and refused to a UDP one.
TEST(ForeignHolderUdpTest, UdpHolderBlocksOnlyUdpLeases) {
  const LeasedPorts leased(1);
  absl::StatusOr<ForeignHolder> holder = UdpOnly(leased.base());
  ASSERT_TRUE(holder.ok()) << holder.status();
  const Port port = holder->port;
  ProbingServer server({PortRange{port, port}});

  absl::StatusOr<v1::Lease> udp = AcquireOne(server.client(), /*udp=*/true);
  ASSERT_FALSE(udp.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(udp.status())) << udp.status();

  // After the back-off, a TCP-only lease gets the port.
  absl::StatusOr<v1::Lease> tcp =
      AcquireWithin(server.client(), /*udp=*/false, kRegrant);
  ASSERT_TRUE(tcp.ok()) << tcp.status();
  EXPECT_EQ(tcp->base_port(), port);
  EXPECT_FALSE(tcp->udp());
}

// A pool made only of foreign listeners: Acquire answers at once with
// RESOURCE_EXHAUSTED counting them, and never loops.
TEST(ForeignHolderPoolTest, PoolFullOfListenersIsExhaustedWithBusyCount) {
  std::vector<ForeignHolder> holders;
  std::vector<PortRange> pool;
  const LeasedPorts leased(5);
  for (int i = 0; i < 3; ++i) {  // every other port: three ranges
    absl::StatusOr<ForeignHolder> holder = ListenOnLoopback(leased.port(2 * i));
    ASSERT_TRUE(holder.ok()) << holder.status();
    pool.push_back(PortRange{holder->port, holder->port});
    holders.push_back(*std::move(holder));
  }
  std::sort(pool.begin(), pool.end(),
            [](const PortRange& a, const PortRange& b) { return a.lo < b.lo; });
  ProbingServer server(pool);

  const absl::Time start = absl::Now();
  absl::StatusOr<v1::Lease> lease = AcquireOne(server.client(), false);
  EXPECT_LT(absl::Now() - start, Scaled(absl::Seconds(5)));
  ASSERT_FALSE(lease.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(lease.status())) << lease.status();
  EXPECT_THAT(lease.status().message(),
              HasSubstr("3 bound by other processes (3 found just now)"));
  absl::StatusOr<v1::StatusResponse> status = server.client().Status();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->busy(), 3u);
  EXPECT_EQ(status->free(), 0u);

  // Let go of one: that one (and only that one) is granted.
  const Port freed = holders[1].port;
  ASSERT_TRUE(Release(&holders[1]).ok());
  absl::StatusOr<v1::Lease> granted =
      AcquireWithin(server.client(), false, kRegrant);
  ASSERT_TRUE(granted.ok()) << granted.status();
  EXPECT_EQ(granted->base_port(), freed);
  absl::StatusOr<v1::Lease> more =
      AcquireRepeatedly(server.client(), false, kHeldSpan);
  EXPECT_FALSE(more.ok()) << "granted held port " << more->base_port();
}

// A released port cools down before it is granted again, even when it is
// the only port of the pool.
TEST(CooldownTest, ReleasedPortWaitsForTheCooldown) {
  const LeasedPorts leased(1);
  const Port port = leased.base();
  ProbingServer server({PortRange{port, port}});

  absl::StatusOr<v1::Lease> lease = AcquireOne(server.client(), false);
  ASSERT_TRUE(lease.ok()) << lease.status();
  // Taken before the Release: the server starts the cool-down when it
  // releases, which is after this and before its answer arrives.
  const absl::Time released = absl::Now();
  ASSERT_TRUE(server.client().Release(lease->lease_id()).ok());
  absl::StatusOr<v1::Lease> early = AcquireOne(server.client(), false);
  ASSERT_FALSE(early.ok());
  EXPECT_THAT(early.status().message(), HasSubstr("1 cooling down"));

  absl::StatusOr<v1::Lease> again =
      AcquireWithin(server.client(), false, kRegrant);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->base_port(), port);
  EXPECT_GE(absl::Now() - released, kCooldown);
}

}  // namespace
}  // namespace portlease::portsafety
