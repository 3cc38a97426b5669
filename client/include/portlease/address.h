// Where the portlease server is: the address resolution rules shared by
// lease-run and portlease.
//
//   1. $PORTLEASE_ADDR when set. It is used as is: if it does not answer,
//      calls fail (never a silent fallback).
//   2. The system socket, unix:/run/portlease/portleased.sock (override:
//      $PORTLEASE_SYSTEM_ADDR), when it answers a Status call.
//   3. The embedded default: a private portleased for this user, socket
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
  // Deadline of each Status call probing a candidate.
  absl::Duration probe_timeout = absl::Milliseconds(500);
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
