// Where the portlease server is: the address resolution rules shared by
// lease-run and portlease.
//
//   1. $PORTLEASE_ADDR when set. It is used as is: if it does not answer,
//      calls fail (never a silent fallback).
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

#include <string>

#include "absl/status/statusor.h"
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

struct ResolvedAddress {
  enum class Source { kEnvironment, kSystem, kEmbedded };
  // A gRPC target: "unix:/path" or "host:port".
  std::string address;
  Source source = Source::kEnvironment;
  // True when this call started the embedded server.
  bool started = false;

  // "unix:/x.sock (PORTLEASE_ADDR)", "... (system socket)",
  // "... (embedded default server)".
  std::string Describe() const;
};

// Applies the rules above.
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
