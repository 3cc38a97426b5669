// bench_binder: the process collision_check.sh runs under lease-run. It
// really binds and listens on every port of $PORTLEASE_PORTS (TCP,
// 0.0.0.0, without SO_REUSEADDR, like a strict server), holds them for
// --hold, and records what happened in --record_dir, one file per process:
//
//   START_NS END_NS EADDRINUSE OTHER_ERRORS PORT...
//
// (CLOCK_REALTIME; START before the first bind, END after the last close).
// Exit 0 when every port was bound, 3 when some bind failed with
// EADDRINUSE, 1 for other failures, 2 for usage errors.
//
// `bench_binder --check DIR` reads every record in DIR and reports
//   duplicates: pairs of records that held the same port at overlapping
//               times (two live leases sharing a port), and
//   eaddrinuse: binds that failed because the port was taken,
// then exits 0 only when both are 0 and there is at least one record.
//
//   PORTLEASE_PORTS="20000 20001" bench_binder --record_dir=/tmp/x --hold=1s
//   bench_binder --check /tmp/x
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace portlease::bench {
namespace {

int64_t RealtimeNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

struct Record {
  std::string file;
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  int64_t eaddrinuse = 0;
  int64_t other_errors = 0;
  std::vector<int> ports;
};

bool ParseRecord(const std::string& text, Record* record) {
  std::vector<std::string> fields =
      absl::StrSplit(text, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  if (fields.size() < 4) return false;
  if (!absl::SimpleAtoi(fields[0], &record->start_ns) ||
      !absl::SimpleAtoi(fields[1], &record->end_ns) ||
      !absl::SimpleAtoi(fields[2], &record->eaddrinuse) ||
      !absl::SimpleAtoi(fields[3], &record->other_errors)) {
    return false;
  }
  for (size_t i = 4; i < fields.size(); ++i) {
    int port = 0;
    if (!absl::SimpleAtoi(fields[i], &port)) return false;
    record->ports.push_back(port);
  }
  return true;
}

int Check(const std::string& dir_path) {
  DIR* dir = opendir(dir_path.c_str());
  if (dir == nullptr) {
    std::fprintf(stderr, "bench_binder: cannot open %s: %s\n", dir_path.c_str(),
                 std::strerror(errno));
    return 2;
  }
  std::vector<Record> records;
  int64_t unreadable = 0;
  while (dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name.size() < 4 || name.substr(name.size() - 4) != ".rec") continue;
    std::ifstream in(dir_path + "/" + name);
    std::stringstream text;
    text << in.rdbuf();
    Record record;
    record.file = name;
    if (ParseRecord(text.str(), &record)) {
      records.push_back(std::move(record));
    } else {
      ++unreadable;
    }
  }
  closedir(dir);

  // Per port, the records holding it; a duplicate is two of them whose
  // [start, end] intervals overlap.
  std::map<int, std::vector<const Record*>> by_port;
  int64_t eaddrinuse = 0, other_errors = 0, ports = 0;
  for (const Record& r : records) {
    eaddrinuse += r.eaddrinuse;
    other_errors += r.other_errors;
    ports += static_cast<int64_t>(r.ports.size());
    for (int port : r.ports) by_port[port].push_back(&r);
  }
  int64_t duplicates = 0;
  for (auto& [port, holders] : by_port) {
    for (size_t i = 0; i < holders.size(); ++i) {
      for (size_t j = i + 1; j < holders.size(); ++j) {
        const Record& a = *holders[i];
        const Record& b = *holders[j];
        if (a.start_ns <= b.end_ns && b.start_ns <= a.end_ns) {
          ++duplicates;
          if (duplicates <= 10) {
            std::printf("duplicate: port %d held by %s and %s at once\n", port,
                        a.file.c_str(), b.file.c_str());
          }
        }
      }
    }
  }
  std::printf(
      "records: %zu (%lld unreadable), ports bound: %lld, distinct ports: "
      "%zu\nduplicates: %lld\neaddrinuse: %lld\nother bind errors: %lld\n",
      records.size(), static_cast<long long>(unreadable),
      static_cast<long long>(ports), by_port.size(),
      static_cast<long long>(duplicates), static_cast<long long>(eaddrinuse),
      static_cast<long long>(other_errors));
  const bool ok = !records.empty() && unreadable == 0 && duplicates == 0 &&
                  eaddrinuse == 0 && other_errors == 0;
  return ok ? 0 : 1;
}

int Bind(const std::string& record_dir, absl::Duration hold) {
  const char* env = std::getenv("PORTLEASE_PORTS");
  std::vector<int> ports;
  for (absl::string_view part :
       absl::StrSplit(env ? env : "", ' ', absl::SkipEmpty())) {
    int port = 0;
    if (!absl::SimpleAtoi(part, &port) || port < 1 || port > 65535) {
      std::fprintf(stderr, "bench_binder: bad port in PORTLEASE_PORTS: %s\n",
                   std::string(part).c_str());
      return 2;
    }
    ports.push_back(port);
  }
  if (ports.empty()) {
    std::fprintf(stderr, "bench_binder: PORTLEASE_PORTS is empty or unset\n");
    return 2;
  }

  const int64_t start_ns = RealtimeNs();
  int64_t eaddrinuse = 0, other_errors = 0;
  std::vector<int> fds;
  for (int port : ports) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      ++other_errors;
      continue;
    }
    fds.push_back(fd);
    sockaddr_in address;
    std::memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    address.sin_port = htons(static_cast<uint16_t>(port));
    if (bind(fd, reinterpret_cast<const sockaddr*>(&address),
             sizeof(address)) != 0 ||
        listen(fd, 16) != 0) {
      const int error = errno;
      if (error == EADDRINUSE) {
        ++eaddrinuse;
      } else {
        ++other_errors;
      }
      std::fprintf(stderr, "bench_binder: port %d: %s\n", port,
                   std::strerror(error));
    }
  }
  absl::SleepFor(hold);
  for (int fd : fds) close(fd);
  const int64_t end_ns = RealtimeNs();

  const std::string path = absl::StrCat(record_dir, "/", getpid(), ".rec");
  const std::string tmp = path + ".tmp";
  // write(2), not a stream: a stream's locale set-up would be most of
  // this process's own CPU.
  const std::string line =
      absl::StrCat(start_ns, " ", end_ns, " ", eaddrinuse, " ", other_errors,
                   " ", absl::StrJoin(ports, " "), "\n");
  const int out = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                       0644);
  const bool written =
      out >= 0 && write(out, line.data(), line.size()) ==
                      static_cast<ssize_t>(line.size());
  if (out >= 0 && close(out) != 0) return 1;
  if (!written) {
    std::fprintf(stderr, "bench_binder: cannot write %s\n", tmp.c_str());
    return 1;
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) return 1;
  if (eaddrinuse > 0) return 3;
  return other_errors > 0 ? 1 : 0;
}

constexpr char kUsage[] =
    "usage: bench_binder --record_dir=DIR [--hold=DURATION]  (ports from "
    "$PORTLEASE_PORTS)\n"
    "       bench_binder --check DIR\n";

// The flags, read by hand: the binder is the command lease-run starts in
// the benchmarks, and its own start-up (a flags library's registry built
// before main) would count as lease-run's. --NAME=VALUE or --NAME VALUE.
int Run(int argc, char** argv) {
  std::string record_dir, check, hold_text = "1s";
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    bool known = false;
    for (auto [name, value] : {std::pair<absl::string_view, std::string*>{
                                   "--record_dir", &record_dir},
                               {"--hold", &hold_text},
                               {"--check", &check}}) {
      if (arg == name && i + 1 < argc) {
        *value = argv[++i];
      } else if (absl::StartsWith(arg, absl::StrCat(name, "="))) {
        *value = std::string(arg.substr(name.size() + 1));
      } else {
        continue;
      }
      known = true;
      break;
    }
    if (!known) {
      std::fprintf(stderr, "bench_binder: unknown argument %s\n%s", argv[i],
                   kUsage);
      return 2;
    }
  }
  if (!check.empty()) return Check(check);
  absl::Duration hold;
  if (!absl::ParseDuration(hold_text, &hold) || hold < absl::ZeroDuration()) {
    std::fprintf(stderr, "bench_binder: bad --hold %s\n", hold_text.c_str());
    return 2;
  }
  if (record_dir.empty()) {
    std::fprintf(stderr, "bench_binder: --record_dir is required\n%s",
                 kUsage);
    return 2;
  }
  return Bind(record_dir, hold);
}

}  // namespace
}  // namespace portlease::bench

int main(int argc, char** argv) { return portlease::bench::Run(argc, argv); }
