// PortClaims: the ports this server holds, as seen by every other
// portleased on the host. Declared here, implemented by server/claims
// (byte-range locks in a host-wide directory); tests use FakeClaims.
//
// A server claims a block before it probes and grants it, and keeps the
// claim while the ports are its own: leased, draining or cooling down. A
// port another live server claims is skipped like a port bound by another
// process. Claims of a server that dies vanish with it.
#ifndef PORTLEASE_SERVER_CORE_PORT_CLAIMS_H_
#define PORTLEASE_SERVER_CORE_PORT_CLAIMS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/core/lease.h"

namespace portlease {

// Another server holding a claim.
struct ClaimHolder {
  // Its process id (as the kernel reports it; 0 when unknown).
  int32_t pid = 0;
  // Its user name, or the uid as a number; empty when unknown.
  std::string user;
};

// Thread-safe implementations only. Claims belong to the server (process),
// not to a lease. Callers claim only ports they do not claim yet: a refused
// Claim leaves none of the asked ports claimed.
class PortClaims {
 public:
  virtual ~PortClaims() = default;

  // Claims first .. first+count-1 for TCP and, when `udp`, for UDP too. All
  // or nothing: returns the ports another server claims (and claims none of
  // them), or an empty vector when all are now this server's.
  virtual std::vector<Port> Claim(Port first, uint32_t count, bool udp) = 0;

  // Gives up this server's claims on the ports, for both protocols.
  // Idempotent.
  virtual void Unclaim(Port first, uint32_t count) = 0;

  // The other server claiming `port` (for either protocol), if any.
  virtual std::optional<ClaimHolder> Holder(Port port) = 0;
};

// No claims: every Claim succeeds, nobody else holds any port.
class NoClaims : public PortClaims {
 public:
  std::vector<Port> Claim(Port, uint32_t, bool) override { return {}; }
  void Unclaim(Port, uint32_t) override {}
  std::optional<ClaimHolder> Holder(Port) override { return std::nullopt; }
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_PORT_CLAIMS_H_
