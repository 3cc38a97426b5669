// Callers for LeaseManager's unit tests (principal.h): two users and root.
#ifndef PORTLEASE_SERVER_CORE_TEST_CALLERS_H_
#define PORTLEASE_SERVER_CORE_TEST_CALLERS_H_

#include "server/core/principal.h"

namespace portlease {

inline const Principal kAlice{"uid:1000", ""};
inline const Principal kBob{"uid:1001", ""};
inline const Principal kRoot{"uid:0", "root"};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_TEST_CALLERS_H_
