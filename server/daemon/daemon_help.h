// portleased --help (the man page portleased(8) is made from it,
// ci/man/help-to-man.awk) and Abseil's usage settings for the daemon.
#ifndef PORTLEASE_SERVER_DAEMON_DAEMON_HELP_H_
#define PORTLEASE_SERVER_DAEMON_DAEMON_HELP_H_

namespace portlease {

// Whether argv asks for --help (also -h and -help), anywhere after argv[0].
bool IsHelpRequest(int argc, char** argv);

// Prints --help to standard output: NAME ... OPTIONS (every flag of
// daemon_flags.cc, sorted) ... SEE ALSO.
void PrintDaemonHelp();

// The usage message, --version text and the file whose flags Abseil's
// own --helpfull lists first. Call before parsing the command line.
void InstallDaemonUsageConfig();

}  // namespace portlease

#endif  // PORTLEASE_SERVER_DAEMON_DAEMON_HELP_H_
