// Who a caller is, for the lease rules (principal.h): the identity the
// transport proved, and whether it may act on any caller's lease.
//
//   Principal who = PrincipalOf(Identify(peers, context->peer()),
//                               context->auth_context().get(),
//                               context->client_metadata(), admin_token);
//
// Identity, in order: the client certificate of an mTLS connection
// ("x509:" + its first common name, else its subject; the client CA must
// issue one CN per identity), else the PeerIdentity's principal (the uid on
// the Unix socket, the address over TCP). Privilege: "root" for uid 0 on
// the Unix socket, else "admin-token" when the call carries the admin
// token (a wrong or missing token just means no privilege).
//
// Stateless: thread-safe.
#ifndef PORTLEASE_SERVER_SERVICE_CALLER_IDENTITY_H_
#define PORTLEASE_SERVER_SERVICE_CALLER_IDENTITY_H_

#include <map>

#include "absl/strings/string_view.h"
#include "grpcpp/security/auth_context.h"
#include "grpcpp/support/string_ref.h"
#include "server/core/principal.h"
#include "server/service/peer_credentials.h"

namespace portlease {

// `auth_context` may be null (no security context: plaintext).
Principal PrincipalOf(
    const PeerIdentity& peer, const grpc::AuthContext* auth_context,
    const std::multimap<grpc::string_ref, grpc::string_ref>& client_metadata,
    absl::string_view admin_token);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_SERVICE_CALLER_IDENTITY_H_
