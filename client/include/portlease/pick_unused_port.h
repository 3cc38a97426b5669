// PickUnusedPort: a port from a portserver, the protocol of Google's
// portpicker (Python's portpicker.pick_unused_port and its `portserver`
// daemon), for C++ code that runs where PORTSERVER_ADDRESS is set.
//
// The protocol: connect to a Unix stream socket ("@name" is "name" in the
// abstract namespace, anything else a path), send the pid the port is for
// as "<pid>\n", read "<port>\n". An empty answer (or "0") means the server
// had no port. The server keeps the port for that pid until the process is
// gone and the port is free again.
//
//   absl::StatusOr<uint16_t> port = portlease::PickUnusedPort();
//   if (!port.ok()) return port.status();  // NOT_FOUND, UNAVAILABLE
//   StartServerOn(*port);
//
// Thread-safe (no shared state); each call makes one connection and waits
// at most 10 seconds for the answer.
#ifndef PORTLEASE_CLIENT_INCLUDE_PORTLEASE_PICK_UNUSED_PORT_H_
#define PORTLEASE_CLIENT_INCLUDE_PORTLEASE_PICK_UNUSED_PORT_H_

#include <sys/types.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace portlease {

// Asks the portserver at `portserver_address` for a port for process `pid`.
// An empty address means the environment variable PORTSERVER_ADDRESS; pid
// 0 means this process (getpid()).
//
// Errors, each message naming the address:
//   NOT_FOUND          no address given and PORTSERVER_ADDRESS unset or
//                      empty; or the server answered that it had no port
//   UNAVAILABLE        cannot connect (nothing listening, no such socket),
//                      the connection failed, no answer within 10 seconds,
//                      or an answer that is not a port number
//   INVALID_ARGUMENT   an address too long for a Unix socket, or pid < 0
absl::StatusOr<uint16_t> PickUnusedPort(absl::string_view portserver_address = "",
                                        pid_t pid = 0);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_INCLUDE_PORTLEASE_PICK_UNUSED_PORT_H_
