// The record of a lease as etcd keeps it (key P leases/<id>, value a
// ReplicatedLease message, proto/portlease/replicated/), and back.
#ifndef PORTLEASE_SERVER_REPLICATED_LEASE_CODEC_H_
#define PORTLEASE_SERVER_REPLICATED_LEASE_CODEC_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "server/core/lease.h"
#include "server/etcd/etcd_types.h"

namespace portlease::replicated {

// A lease's record as read from etcd.
struct StoredLease {
  // fencing_token is the key's create_revision.
  LeaseRecord record;
  // The etcd lease its keys are attached to.
  int64_t etcd_lease = 0;
  // The record key's mod_revision: the guard of a write that must not race
  // another (renew, hold, expiry).
  int64_t mod_revision = 0;
};

// The value of P leases/<id> for `record`, its keys on `etcd_lease`.
std::string EncodeLease(const LeaseRecord& record, int64_t etcd_lease);

// The record `kv` (a P leases/<id> key) holds. DATA_LOSS when the value is
// not a record, or names another id than `id`.
absl::StatusOr<StoredLease> DecodeLease(const etcd::KeyValue& kv,
                                        const std::string& id);

}  // namespace portlease::replicated

#endif  // PORTLEASE_SERVER_REPLICATED_LEASE_CODEC_H_
