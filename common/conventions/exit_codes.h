// The exit codes of lease-run, lease-exec and the portlease CLI, in one
// place: scripts and CI recipes test them (README "Exit codes"). Where a
// code has a sysexits(3) name it has that meaning.
#ifndef PORTLEASE_COMMON_CONVENTIONS_EXIT_CODES_H_
#define PORTLEASE_COMMON_CONVENTIONS_EXIT_CODES_H_

namespace portlease {

// lease-run's own exit codes (otherwise it exits with the command's); 1 is
// a server problem only the user can fix (another embedded server version,
// no portleased binary). lease-exec and the CLI use the same numbers for
// the same causes.
inline constexpr int kExitUsage = 2;          // bad flags, profile, template
inline constexpr int kExitUnavailable = 69;   // server unreachable
inline constexpr int kExitTempFail = 75;      // pool exhausted, lease lost
inline constexpr int kExitCannotExecute = 126;  // the command is not executable
inline constexpr int kExitNotFound = 127;     // the command is not found

// The CLI's exit code when the admin token is missing, unreadable or
// refused by the server, and when renew or release name a lease that
// belongs to another caller (sysexits' EX_NOPERM).
inline constexpr int kExitNoPermission = 77;

// Exit codes of `portlease server` (see PortleaseCliUsage): the private
// server did not start, stop or answer; it is not running (status, stop);
// it still has live leases (stop without --force).
inline constexpr int kExitFailed = 1;
inline constexpr int kExitNotRunning = 3;
inline constexpr int kExitLeasesLive = 75;

}  // namespace portlease

#endif  // PORTLEASE_COMMON_CONVENTIONS_EXIT_CODES_H_
