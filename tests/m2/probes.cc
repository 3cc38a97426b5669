#include "tests/m2/probes.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tests/m2/socket_io.h"

namespace portlease::m2 {
namespace {

absl::Status Annotate(const absl::Status& status, absl::string_view what,
                      const HostPort& address) {
  return absl::Status(
      status.code(), absl::StrCat(what, " at ", address.host, ":", address.port,
                                  ": ", status.message()));
}

// Sends `request`, reads one '\n'-terminated line and compares it to `want`.
absl::Status Exchange(const HostPort& address, absl::Duration timeout,
                      absl::string_view request, absl::string_view want,
                      absl::string_view what) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<Fd> fd = Connect(address, timeout);
  if (!fd.ok()) return Annotate(fd.status(), what, address);
  if (absl::Status st = WriteAll(fd->get(), request, deadline); !st.ok()) {
    return Annotate(st, what, address);
  }
  absl::StatusOr<std::string> reply = ReadUntil(fd->get(), "\n", 512, deadline);
  if (!reply.ok()) return Annotate(reply.status(), what, address);
  if (!absl::StartsWith(*reply, want)) {
    return Annotate(absl::UnavailableError(absl::StrCat(
                        "unexpected reply '",
                        absl::StripTrailingAsciiWhitespace(*reply), "'")),
                    what, address);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status PingRedis(const HostPort& address, absl::Duration timeout) {
  return Exchange(address, timeout, "*1\r\n$4\r\nPING\r\n", "+PONG\r\n",
                  "redis");
}

absl::Status PingWorker(const HostPort& address, absl::Duration timeout) {
  return Exchange(address, timeout, "PING\n", kWorkerPong, "worker");
}

}  // namespace portlease::m2
