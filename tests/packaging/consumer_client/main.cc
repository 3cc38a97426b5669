// Prints what the portleased at $PORTLEASE_ADDR says about itself, through
// the consumer's shared library, and a template expanded by the client
// library. Exit status 0 when the server answered.
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "portlease/template.h"
#include "status.h"

int main() {
  const char* address = std::getenv("PORTLEASE_ADDR");
  if (address == nullptr) {
    std::fprintf(stderr, "consumer_main: PORTLEASE_ADDR is not set\n");
    return 2;
  }
  absl::StatusOr<std::string> url = portlease::ExpandTemplate(
      "redis://127.0.0.1:${REDIS_PORT:-6379}",
      [](absl::string_view) { return std::optional<std::string>(); },
      "main.cc");
  std::string description = DescribeServer(address);
  std::printf("%s; %s\n", description.c_str(),
              url.ok() ? url->c_str() : url.status().ToString().c_str());
  return description.rfind("error: ", 0) == 0 ? 1 : 0;
}
