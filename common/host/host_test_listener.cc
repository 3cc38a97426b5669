// host_test_listener [--udp] [--v6] PORT [-- IGNORED...]
//
// Test helper: binds PORT (0 for any) on 127.0.0.1 (or [::1] with --v6),
// listens (TCP) or just stays bound (--udp), prints the bound port and a
// newline on stdout, then sleeps until a signal ends it. Exit code 2 on bad
// arguments, 1 when the socket cannot be set up.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  bool udp = false;
  bool v6 = false;
  const char* port_arg = nullptr;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      // The rest only shows in the command line (a stand-in's arguments).
      break;
    } else if (arg == "--udp") {
      udp = true;
    } else if (arg == "--v6") {
      v6 = true;
    } else if (port_arg == nullptr) {
      port_arg = argv[i];
    } else {
      port_arg = nullptr;
      break;
    }
  }
  char* end = nullptr;
  long port = port_arg == nullptr ? -1 : std::strtol(port_arg, &end, 10);
  if (port_arg == nullptr || *end != '\0' || port < 0 || port > 65535) {
    std::fprintf(stderr, "usage: %s [--udp] [--v6] PORT\n", argv[0]);
    return 2;
  }
  const int fd = socket(v6 ? AF_INET6 : AF_INET,
                        (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::perror("socket");
    return 1;
  }
  sockaddr_storage storage;
  std::memset(&storage, 0, sizeof(storage));
  socklen_t length;
  if (v6) {
    auto* address = reinterpret_cast<sockaddr_in6*>(&storage);
    address->sin6_family = AF_INET6;
    address->sin6_addr = in6addr_loopback;
    address->sin6_port = htons(static_cast<uint16_t>(port));
    length = sizeof(sockaddr_in6);
  } else {
    auto* address = reinterpret_cast<sockaddr_in*>(&storage);
    address->sin_family = AF_INET;
    address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address->sin_port = htons(static_cast<uint16_t>(port));
    length = sizeof(sockaddr_in);
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    std::perror("bind");
    return 1;
  }
  if (!udp && listen(fd, 16) != 0) {
    std::perror("listen");
    return 1;
  }
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    std::perror("getsockname");
    return 1;
  }
  const uint16_t bound =
      v6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port)
         : ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
  std::printf("%u\n", static_cast<unsigned>(bound));
  std::fflush(stdout);
  while (true) pause();
}
