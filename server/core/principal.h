// Principal: who made a request, as the transport proved it (never taken
// from the request's payload), and the spelling of caller identities used
// by the core, the service, the log and the tests.
//
//   Principal alice{UidPrincipal(1000), ""};        // "uid:1000"
//   Principal root{UidPrincipal(0), "root"};        // may act on any lease
//   AddressPrincipal("%5B::1%5D") == "addr:loopback"
//
// Plain functions and a value type: thread-safe.
#ifndef PORTLEASE_SERVER_CORE_PRINCIPAL_H_
#define PORTLEASE_SERVER_CORE_PRINCIPAL_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "server/core/lease.h"

namespace portlease {

struct Principal {
  // "uid:1000" (Unix socket, SO_PEERCRED), "x509:<CN>" (mTLS client
  // certificate), "addr:10.0.0.7" or "addr:loopback" (TCP without a client
  // certificate), "peer:<gRPC peer>" (anything else). Empty only for leases
  // stored before callers were recorded that carry no server-written peer
  // keys: nobody but a privileged caller matches it.
  std::string id;
  // Why this caller may act on any caller's lease: "" (it may not), "root"
  // (uid 0 on the Unix socket) or "admin-token" (the admin bearer token).
  std::string privilege;

  bool privileged() const { return !privilege.empty(); }
};

// "uid:<uid>".
std::string UidPrincipal(uint32_t uid);

// "addr:<ip>" for a TCP caller's IP address, as gRPC spells it (IPv6 maybe
// URL-escaped, "%5B::1%5D", or bracketed). IPv4-mapped IPv6 addresses
// become IPv4, and every loopback address (127.0.0.0/8, ::1) is
// "addr:loopback", so a client that reconnects over the other address
// family stays the same caller.
std::string AddressPrincipal(absl::string_view ip);

// "x509:<name>" for an mTLS client certificate's common name (or subject).
std::string CertificatePrincipal(absl::string_view name);

// The caller of a lease stored before callers were recorded, from the
// owner keys only the server writes: UidPrincipal(peer_uid), else
// AddressPrincipal(peer_addr), else "" (only privileged callers may act).
std::string LegacyPrincipal(const Metadata& owner);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_PRINCIPAL_H_
