// The text of /proc/PID files for tests that parse them or build a
// /proc-like directory of their own.
#ifndef PORTLEASE_TESTING_PROC_FILES_H_
#define PORTLEASE_TESTING_PROC_FILES_H_

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace portlease::testing {

// A /proc/PID/status with real uid 1000 and effective uid 1001.
inline constexpr char kProcStatus[] =
    "Name:\tpython3\nState:\tS (sleeping)\nUid:\t1000\t1001\t1000\t1000\n";

// A /proc/PID/stat line for pid 42: `comm`, `state`, fields 4..21 zero,
// start time `start` (field 22).
inline std::string ProcStatLine(absl::string_view comm, char state,
                                uint64_t start) {
  std::string stat = absl::StrCat("42 (", comm, ") ", std::string(1, state));
  for (int field = 4; field < 22; ++field) absl::StrAppend(&stat, " 0");
  return absl::StrCat(stat, " ", start, " 0 0\n");
}

}  // namespace portlease::testing

#endif  // PORTLEASE_TESTING_PROC_FILES_H_
