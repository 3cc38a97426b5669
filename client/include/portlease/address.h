// Where the portlease server is: the address resolution rules shared by
// lease-run and portlease.
//
//   1. $PORTLEASE_ADDR when set: one address or a comma-separated list
//      (`unix:/a.sock,127.0.0.1:7000,[::1]:7001`, see ParseAddressList),
//      used as is: if none answers, calls fail (never a silent fallback,
//      and never the embedded server). A Client over a list fails over
//      between its addresses (see portlease/client.h).
//   2. The system socket, unix:/run/portlease/portleased.sock (override:
//      $PORTLEASE_SYSTEM_ADDR), whenever something exists at that path or
//      the path's directory exists (systemd keeps /run/portlease while the
//      service restarts; `systemctl stop` removes it). It
//      must answer a Status call within ResolveOptions::connect_timeout
//      (a restarting server is waited for); a socket that refuses this
//      user, a stalled or dead server is an error naming the socket and
//      the fix, never a reason to start a second allocator over the same
//      ports.
//   3. Only when there is no system socket at all, the embedded default:
//      a private portleased for this user, socket
//      $XDG_RUNTIME_DIR/portlease/portleased.sock (fallback
//      /tmp/portlease-$UID/, mode 0700), database and log in
//      $XDG_STATE_HOME/portlease/ (fallback $HOME/.local/state/portlease/).
//      Started on first use when ResolveOptions::start_embedded; its
//      version must equal kClientVersion.
#ifndef PORTLEASE_CLIENT_INCLUDE_PORTLEASE_ADDRESS_H_
#define PORTLEASE_CLIENT_INCLUDE_PORTLEASE_ADDRESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "portlease/template.h"

namespace portlease {

inline constexpr char kSystemAddress[] = "unix:/run/portlease/portleased.sock";

struct ResolveOptions {
  // Start the embedded default server when neither PORTLEASE_ADDR is set
  // nor the system socket answers.
  bool start_embedded = true;
  // The environment the rules read; the process environment when empty.
  VariableLookup environment;
  // Deadline of each Status call probing the embedded server.
  absl::Duration probe_timeout = absl::Milliseconds(500);
  // How long the system server may take to answer (it may be restarting),
  // and a running private server when none is to be started.
  absl::Duration connect_timeout = absl::Seconds(10);
  // How long starting the embedded server may take in total (including
  // waiting for another process that is starting it).
  absl::Duration start_timeout = absl::Seconds(20);
};

// Splits a comma-separated list of server addresses, each "unix:PATH",
// "HOST:PORT", "[IPV6]:PORT" or a gRPC target with a dns:, ipv4:, ipv6:
// or unix-abstract: scheme. Whitespace around an entry is dropped; order
// is kept. INVALID_ARGUMENT, one line naming the entry, for an empty list,
// an empty entry, a duplicate or a malformed entry (no port, a port out of
// range, an IPv6 host without brackets, whitespace inside).
absl::StatusOr<std::vector<std::string>> ParseAddressList(
    absl::string_view list);

struct ResolvedAddress {
  enum class Source { kEnvironment, kSystem, kEmbedded };
  // A gRPC target: "unix:/path" or "host:port"; the first of `addresses`.
  std::string address;
  // Every address to try, in order (several only from PORTLEASE_ADDR).
  std::vector<std::string> addresses;
  Source source = Source::kEnvironment;
  // True when this call started the embedded server.
  bool started = false;
  // The connection the server answered on (system socket, embedded
  // server), kept open: while this lives, a Client made for `address`
  // uses it rather than connecting again (gRPC shares one connection
  // between channels with the same target and arguments).
  std::shared_ptr<const void> connection;

  // "unix:/x.sock (PORTLEASE_ADDR)", "unix:/a,unix:/b (PORTLEASE_ADDR)",
  // "... (system socket)",
  // "... (embedded default server)".
  std::string Describe() const;
};

// Applies the rules above.
//   INVALID_ARGUMENT    PORTLEASE_ADDR is not a valid address list
//   PERMISSION_DENIED   the system socket refuses this user (the message
//                       names the socket and the group to join)
//   UNAVAILABLE         the system socket exists but no server answers
//                       within connect_timeout (the message names it and
//                       says to check `systemctl status portleased`)
//   NOT_FOUND           nothing answers and start_embedded is false (the
//                       message lists the addresses tried)
//   FAILED_PRECONDITION the embedded server runs another version (the
//                       message says how to stop it), or no portleased
//                       binary was found
//   UNAVAILABLE / DEADLINE_EXCEEDED / INTERNAL  starting it failed (the
//                       message names the log file)
absl::StatusOr<ResolvedAddress> ResolveServerAddress(
    const ResolveOptions& options);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_INCLUDE_PORTLEASE_ADDRESS_H_
