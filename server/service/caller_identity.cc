#include "server/service/caller_identity.h"

#include <string>
#include <vector>

#include "server/service/admin_auth.h"

namespace portlease {
namespace {

// The first value of `property` in the peer's identity, or "".
std::string FirstProperty(const grpc::AuthContext& context,
                          const char* property) {
  std::vector<grpc::string_ref> values =
      context.FindPropertyValues(property);
  if (values.empty()) return "";
  return std::string(values.front().data(), values.front().size());
}

}  // namespace

Principal PrincipalOf(
    const PeerIdentity& peer, const grpc::AuthContext* auth_context,
    const std::multimap<grpc::string_ref, grpc::string_ref>& client_metadata,
    absl::string_view admin_token) {
  Principal who;
  who.id = peer.principal;
  if (auth_context != nullptr && auth_context->IsPeerAuthenticated()) {
    std::string name =
        FirstProperty(*auth_context, GRPC_X509_CN_PROPERTY_NAME);
    if (name.empty()) {
      name = FirstProperty(*auth_context, GRPC_X509_SUBJECT_PROPERTY_NAME);
    }
    if (!name.empty()) who.id = CertificatePrincipal(name);
  }
  if (peer.credentials.has_value() && peer.credentials->uid == 0) {
    who.privilege = "root";
  } else if (!admin_token.empty() &&
             CheckBearerToken(client_metadata, admin_token).ok()) {
    who.privilege = "admin-token";
  }
  return who;
}

}  // namespace portlease
