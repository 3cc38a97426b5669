#include "common/wire/port_holder.h"

#include "gtest/gtest.h"

namespace portlease {
namespace {

PortHolder Listener() {
  PortHolder holder;
  holder.socket.protocol = SocketProtocol::kTcp;
  holder.socket.family = IpFamily::kV6;
  holder.socket.state = "LISTEN";
  holder.socket.local_address = "::1";
  holder.user = "ci";
  return holder;
}

TEST(PortHolderTest, OneEntryPerProcess) {
  PortHolder holder = Listener();
  holder.processes.push_back({101, "redis-server"});
  holder.processes.push_back({102, "redis-server --child"});
  std::vector<v1::PortHolder> entries = HolderEntries(holder);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].pid(), 101);
  EXPECT_EQ(entries[1].command(), "redis-server --child");
  for (const v1::PortHolder& e : entries) {
    EXPECT_EQ(e.protocol(), "tcp");
    EXPECT_EQ(e.family(), "v6");
    EXPECT_EQ(e.state(), "LISTEN");
    EXPECT_EQ(e.local_address(), "::1");
    EXPECT_EQ(e.user(), "ci");
  }
}

TEST(PortHolderTest, DockersProxyNamesTheContainer) {
  PortHolder holder = Listener();
  holder.processes.push_back(
      {103, "/usr/bin/docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port "
            "8080 -container-ip 172.17.0.3 -container-port 80"});
  holder.processes.push_back({104, "redis-server"});
  std::vector<v1::PortHolder> entries = HolderEntries(holder);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].container(), "172.17.0.3:80");
  EXPECT_EQ(entries[1].container(), "");
}

TEST(PortHolderTest, OneEntryWithoutAProcessWhenNoneIsNamed) {
  std::vector<v1::PortHolder> entries = HolderEntries(Listener());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].pid(), 0);
  EXPECT_EQ(entries[0].command(), "");
  EXPECT_EQ(entries[0].protocol(), "tcp");
}

}  // namespace
}  // namespace portlease
