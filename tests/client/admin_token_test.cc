// portleased and the portlease CLI read an admin token file the same way
// (common/conventions/admin_token.h): a file one accepts the other
// accepts, and both find the same token in it. Only the server's own rules
// (at least kMinAdminTokenBytes, the file's mode) are left out here: every
// token below is long enough and every file is 0600.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "server/service/admin_auth.h"
#include "cli/cli_internal.h"
#include "testing/temp_dir.h"

namespace portlease {
namespace {

std::string WriteTokenFile(const std::string& dir, int n,
                           const std::string& content) {
  const std::string path = dir + "/token" + std::to_string(n);
  std::ofstream(path, std::ios::binary) << content;
  EXPECT_EQ(chmod(path.c_str(), 0600), 0);
  return path;
}

TEST(AdminTokenTest, ServerAndCliAcceptTheSameTokens) {
  const testing::TempDir temp;
  const std::string dir = temp.path();
  const std::string word = "0123456789abcdefXYZ";
  struct Case {
    std::string content;
    bool accepted;
  };
  const Case cases[] = {
      {word, true},
      {word + "\n", true},
      {"  " + word + " \r\n\n", true},
      {"!" + word + "~", true},  // 0x21 and 0x7E
      {word + " " + word, false},
      {word + "\t" + word, false},
      {word + "\x7f", false},
      {word + "\x01", false},
      {word + "\x80", false},      // not ASCII (the server used to take it)
      {word + "\xc3\xa9", false},  // UTF-8 "e acute"
      {word + "\xff", false},
  };
  int n = 0;
  for (const Case& c : cases) {
    const std::string path = WriteTokenFile(dir, n++, c.content);
    absl::StatusOr<std::string> server = LoadAdminToken(path);
    CliFlags flags;
    flags.admin_token_file = path;
    absl::StatusOr<std::string> cli = ReadAdminToken(flags);
    EXPECT_EQ(server.ok(), c.accepted) << path << ": " << server.status();
    EXPECT_EQ(cli.ok(), c.accepted) << path << ": " << cli.status();
    if (server.ok() && cli.ok()) {
      EXPECT_EQ(*server, *cli) << path;
    }
    std::remove(path.c_str());
  }
}

}  // namespace
}  // namespace portlease
