// The admin token: who may call ForceRelease, DrainPort, UndrainPort and
// SetPool.
//
// portleased reads the token from a file (--admin-token-file); admin RPCs
// carry it as call metadata "authorization: Bearer TOKEN". The comparison
// takes the same time wherever the first difference is. The token never
// appears in a status message or a log line.
//
//   absl::StatusOr<std::string> token = LoadAdminToken("/etc/portlease/admin");
//   absl::Status ok = CheckBearerToken(context->client_metadata(), *token);
//
// Stateless functions: thread-safe.
#ifndef PORTLEASE_SERVER_SERVICE_ADMIN_AUTH_H_
#define PORTLEASE_SERVER_SERVICE_ADMIN_AUTH_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/support/string_ref.h"

namespace portlease {

// The shortest admin token accepted.
inline constexpr size_t kMinAdminTokenBytes = 16;

// The token in `path`, without surrounding whitespace. NOT_FOUND when the
// file cannot be read; FAILED_PRECONDITION when other users may read or
// write it (any of mode 0007, or group write); INVALID_ARGUMENT when the
// token is shorter than kMinAdminTokenBytes or holds whitespace or control
// characters.
absl::StatusOr<std::string> LoadAdminToken(const std::string& path);

// a == b, in time that depends on the lengths only.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// OK when `metadata` has "authorization: Bearer <expected>". An empty
// `expected` (no token configured) refuses every call. PERMISSION_DENIED
// otherwise, for a missing and a wrong token alike.
absl::Status CheckBearerToken(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
    absl::string_view expected);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_SERVICE_ADMIN_AUTH_H_
