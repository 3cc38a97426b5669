#include "tests/portsafety/portsafety_support.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "testing/poll_until.h"
#include "tests/support/test_ports.h"

namespace portlease::portsafety {
namespace {

using testing_util::ConnectLoopback;
using testing_util::LiveEntries;
using testing_util::LocalPort;
using testing_util::OpenSocket;
using testing::PollUntil;
using testing_util::ScopedFd;
using testing_util::SetLingerZero;
using testing_util::SocketSpec;

constexpr absl::Duration kSettle = absl::Seconds(5);

// A holder made of one socket opened as `spec`.
absl::StatusOr<ForeignHolder> OneSocket(const SocketSpec& spec) {
  absl::StatusOr<ScopedFd> fd = OpenSocket(spec);
  if (!fd.ok()) return fd.status();
  ForeignHolder holder;
  holder.port = LocalPort(fd->get());
  if (holder.port == 0) return absl::InternalError("getsockname failed");
  holder.fds.push_back(*std::move(fd));
  return holder;
}

// Retires the TIME_WAIT of 127.0.0.1:`port` <-> 127.0.0.1:`peer`: a new SYN
// on the same 4-tuple replaces it (port listens again), and that connection
// is closed with RST on both ends, which leaves nothing behind.
absl::Status RetireTimeWait(Port port, Port peer) {
  absl::StatusOr<ScopedFd> listener = OpenSocket({.type = SOCK_STREAM,
                                                  .address = "127.0.0.1",
                                                  .port = port,
                                                  .reuse_address = true,
                                                  .listen = true});
  if (!listener.ok()) return listener.status();
  absl::StatusOr<ScopedFd> client = ConnectLoopback(port, peer, kSettle);
  if (!client.ok()) return client.status();
  ScopedFd server(accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (server.get() < 0) return absl::ErrnoToStatus(errno, "accept4");
  if (!SetLingerZero(server.get()) || !SetLingerZero(client->get())) {
    return absl::InternalError("SO_LINGER failed");
  }
  server.reset();
  client->reset();
  listener->reset();
  if (!PollUntil([&] { return LiveEntries(port, false).empty(); }, kSettle)) {
    return absl::DeadlineExceededError(
        absl::StrCat("port ", port, " still has sockets after RST close"));
  }
  return absl::OkStatus();
}

}  // namespace

ProbingServer::ProbingServer(std::vector<PortRange> pool) {
  LeaseManagerOptions options;
  options.pool = std::move(pool);
  options.cooldown = kCooldown;
  options.busy_backoff = kBusyBackoff;
  options.drain_probe_interval = kDrainProbe;
  options.hold_grace = absl::Milliseconds(300);
  options.on_event = [this](const LeaseEvent& event) {
    absl::MutexLock lock(&events_mu_);
    events_.push_back(
        absl::StrCat(LeaseEventName(event.type), " ", event.port));
  };
  absl::StatusOr<std::unique_ptr<LeaseManager>> manager =
      LeaseManager::Create(std::move(options), &clock_, &store_, &prober_);
  if (!manager.ok()) {
    std::fprintf(stderr, "LeaseManager::Create: %s\n",
                 manager.status().ToString().c_str());
    std::abort();
  }
  manager_ = *std::move(manager);
  ServerOptions server_options;
  server_options.listen = {"unix:" + dir_.File("s.sock")};
  server_options.service.manager = manager_.get();
  server_options.service.clock = &clock_;
  server_options.tick_interval = absl::Milliseconds(20);
  absl::StatusOr<std::unique_ptr<RunningServer>> server =
      StartServer(std::move(server_options));
  if (!server.ok()) {
    std::fprintf(stderr, "StartServer: %s\n",
                 server.status().ToString().c_str());
    std::abort();
  }
  server_ = *std::move(server);
  address_ = server_->addresses().front();
  client_ = std::make_unique<Client>(address_, testing::ScaledClientOptions());
}

ProbingServer::~ProbingServer() {
  client_.reset();
  server_->Shutdown(absl::Seconds(2));
}

std::vector<std::string> ProbingServer::Events() {
  absl::MutexLock lock(&events_mu_);
  return events_;
}

absl::StatusOr<v1::Lease> AcquireOne(Client& client, bool udp) {
  AcquireSpec spec;
  spec.count = 1;
  spec.ttl = absl::Seconds(30);
  spec.udp = udp;
  spec.owner = {{"job", "portsafety"}};
  return client.Acquire(spec);
}

absl::StatusOr<v1::Lease> AcquireRepeatedly(Client& client, bool udp,
                                            absl::Duration span) {
  const absl::Time end = absl::Now() + span;
  absl::StatusOr<v1::Lease> last = absl::UnknownError("not tried");
  do {
    last = AcquireOne(client, udp);
    if (last.ok()) return last;
    absl::SleepFor(absl::Milliseconds(20));
  } while (absl::Now() < end);
  return last;
}

absl::StatusOr<v1::Lease> AcquireWithin(Client& client, bool udp,
                                        absl::Duration timeout) {
  const absl::Time end = absl::Now() + testing::Scaled(timeout);
  while (true) {
    absl::StatusOr<v1::Lease> lease = AcquireOne(client, udp);
    if (lease.ok() || absl::Now() >= end) return lease;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

absl::StatusOr<ForeignHolder> ListenOnLoopback(Port port) {
  return OneSocket({.type = SOCK_STREAM, .address = "127.0.0.1", .port = port,
                    .listen = true});
}

absl::StatusOr<ForeignHolder> ListenOnAnyV4(Port port) {
  return OneSocket({.type = SOCK_STREAM, .address = "0.0.0.0", .port = port,
                    .listen = true});
}

absl::StatusOr<ForeignHolder> ListenDualStack(Port port) {
  absl::StatusOr<ForeignHolder> holder =
      OneSocket({.type = SOCK_STREAM, .address = "::", .port = port,
                 .v6only = false, .listen = true});
  if (absl::IsUnimplemented(holder.status())) {  // EAFNOSUPPORT
    return absl::UnimplementedError(
        absl::StrCat("no IPv6 here: ", holder.status().message()));
  }
  return holder;
}

absl::StatusOr<ForeignHolder> UdpOnly(Port port) {
  absl::StatusOr<ForeignHolder> holder =
      OneSocket({.type = SOCK_DGRAM, .address = "127.0.0.1", .port = port});
  if (!holder.ok()) return holder;
  const bool tcp_free =
      LiveEntries(port, false).empty() &&
      OpenSocket({.type = SOCK_STREAM, .address = "0.0.0.0", .port = port})
          .ok() &&
      [port] {
        absl::Status v6 =
            OpenSocket({.type = SOCK_STREAM, .address = "::", .port = port})
                .status();
        return v6.ok() || absl::IsUnimplemented(v6);  // no IPv6 here
      }();
  if (!tcp_free) {
    return absl::FailedPreconditionError(
        absl::StrCat("leased port ", port, " is in use for TCP"));
  }
  return holder;
}

absl::StatusOr<ForeignHolder> BoundNotListening(Port port) {
  return OneSocket({.type = SOCK_STREAM, .address = "127.0.0.1", .port = port});
}

absl::StatusOr<ForeignHolder> BoundNotListeningReuseAddress(Port port) {
  return OneSocket({.type = SOCK_STREAM, .address = "127.0.0.1", .port = port,
                    .reuse_address = true});
}

absl::StatusOr<ForeignHolder> TimeWait(Port port) {
  absl::StatusOr<ScopedFd> listener = OpenSocket({.type = SOCK_STREAM,
                                                  .address = "127.0.0.1",
                                                  .port = port,
                                                  .reuse_address = true,
                                                  .listen = true});
  if (!listener.ok()) return listener.status();
  const Port peer = static_cast<Port>(port + 1);
  absl::StatusOr<ScopedFd> client = ConnectLoopback(port, peer, kSettle);
  if (!client.ok()) return client.status();
  ScopedFd server(accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (server.get() < 0) return absl::ErrnoToStatus(errno, "accept4");
  // The server side closes first, so the TIME_WAIT lands on `port`.
  server.reset();
  client->reset();
  listener->reset();
  const bool settled = PollUntil(
      [&] {
        std::vector<SocketEntry> entries = LiveEntries(port, false);
        return entries.size() == 1 && entries[0].state == "TIME_WAIT";
      },
      kSettle);
  if (!settled) {
    return absl::DeadlineExceededError(
        absl::StrCat("no lone TIME_WAIT on port ", port));
  }
  ForeignHolder holder;
  holder.port = port;
  holder.release = [peer](ForeignHolder* self) {
    return RetireTimeWait(self->port, peer);
  };
  return holder;
}

absl::Status Release(ForeignHolder* holder) {
  holder->fds.clear();
  if (holder->release) return holder->release(holder);
  return absl::OkStatus();
}

}  // namespace portlease::portsafety
