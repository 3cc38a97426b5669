// Sample LeaseRecords for the store tests and benchmark. Test-only.
#ifndef PORTLEASE_SERVER_STORE_TEST_LEASES_H_
#define PORTLEASE_SERVER_STORE_TEST_LEASES_H_

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "server/core/lease.h"

namespace portlease {

// A distinct, fully populated lease for each `i`; times are whole
// microseconds, as a store keeps them.
inline LeaseRecord TestLease(int i) {
  char id[33];
  std::snprintf(id, sizeof(id), "%032x", i + 1);
  LeaseRecord lease;
  lease.id = id;
  lease.base = static_cast<Port>(20000 + 2 * (i % 20000));
  lease.count = 2;
  lease.names = {"http", "grpc-" + std::to_string(i)};
  lease.udp = i % 3 == 0;
  lease.owner = {{"job", "ci-" + std::to_string(i)},
                 {"host", "runner-7"},
                 {"pid", std::to_string(1000 + i)}};
  lease.request_id = "req-" + std::to_string(i);
  lease.created_at = absl::FromUnixMicros(1700000000000000 + i);
  lease.expires_at = lease.created_at + absl::Seconds(60);
  lease.ttl = absl::Seconds(60);
  lease.state = i % 5 == 0 ? LeaseState::kDraining : LeaseState::kLive;
  return lease;
}

inline std::vector<LeaseRecord> SortedById(std::vector<LeaseRecord> leases) {
  std::sort(leases.begin(), leases.end(),
            [](const LeaseRecord& a, const LeaseRecord& b) {
              return a.id < b.id;
            });
  return leases;
}

}  // namespace portlease

#endif  // PORTLEASE_SERVER_STORE_TEST_LEASES_H_
