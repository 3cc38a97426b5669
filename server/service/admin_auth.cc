#include "server/service/admin_auth.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/conventions/admin_token.h"
#include "common/system/files.h"

namespace portlease {

absl::StatusOr<std::string> LoadAdminToken(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot read admin token file ",
                                            path, ": ", std::strerror(errno)));
  }
  if ((st.st_mode & (S_IRWXO | S_IWGRP)) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "admin token file ", path, " is readable or writable by other users "
        "(mode ", absl::StrFormat("%04o", st.st_mode & 07777),
        "); chmod 0600 (or 0640)"));
  }
  absl::StatusOr<std::string> content = ReadFile(path);
  if (!content.ok()) {
    return absl::NotFoundError(
        absl::StrCat("cannot read admin token file ", path));
  }
  std::string token(AdminTokenFromFileContent(*content));
  if (absl::Status text = CheckAdminTokenText(token); !text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("admin token in ", path, " ", text.message()));
  }
  if (token.size() < kMinAdminTokenBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "admin token in ", path, " is shorter than ", kMinAdminTokenBytes,
        " bytes; make one with: head -c 32 /dev/urandom | base64"));
  }
  return token;
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  // Every byte of b is looked at, whatever a holds; no early exit.
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < b.size(); ++i) {
    const unsigned char x =
        i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    diff = diff | (x ^ static_cast<unsigned char>(b[i]));
  }
  return diff == 0;
}

absl::Status CheckBearerToken(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
    absl::string_view expected) {
  const absl::Status denied = absl::PermissionDeniedError(
      "admin RPC refused: send the server's admin token as call metadata "
      "'authorization: Bearer TOKEN' (the server's --admin-token-file)");
  if (expected.empty()) {
    return absl::PermissionDeniedError(
        "admin RPC refused: this server has no admin token "
        "(start it with --admin-token-file)");
  }
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return denied;
  absl::string_view value(it->second.data(), it->second.size());
  constexpr absl::string_view kScheme = "Bearer ";
  if (value.size() < kScheme.size() ||
      !absl::EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme)) {
    return denied;
  }
  if (!ConstantTimeEquals(value.substr(kScheme.size()), expected)) {
    return denied;
  }
  return absl::OkStatus();
}

}  // namespace portlease
