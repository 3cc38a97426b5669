// LeaseCache: one replica's view of the replicated lease state, built from
// a Range of the whole prefix and kept up to date by a watch (the taken
// ports, the quarantined ports, the lease records). It only proposes
// candidates and answers reads: etcd's transactions decide every grant.
//
// Not thread-safe: EtcdLeaseBackend holds its lock around every call.
#ifndef PORTLEASE_SERVER_REPLICATED_LEASE_CACHE_H_
#define PORTLEASE_SERVER_REPLICATED_LEASE_CACHE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "server/core/lease.h"
#include "server/core/pool_config.h"
#include "server/etcd/etcd_types.h"
#include "server/replicated/keys.h"
#include "server/replicated/lease_codec.h"

namespace portlease::replicated {

class LeaseCache {
 public:
  LeaseCache(KeySpace keys, const PoolConfig& pool);

  // Everything under the prefix as a Range read it at `revision`.
  void Reset(const std::vector<etcd::KeyValue>& kvs, int64_t revision);
  // A watch batch. True when a port or quarantine key went away (ports
  // may have become free).
  bool Apply(const etcd::WatchBatch& batch);
  // Keys a transaction or read saw present at `revision`: applied when the
  // cache has not seen that revision yet (the watch will confirm them).
  void Observe(const std::vector<etcd::KeyValue>& kvs, int64_t revision);
  int64_t revision() const { return revision_; }

  // The first block of `count` contiguous grantable ports, none taken,
  // quarantined or in `avoid`, scanning the pool from `cursor` and wrapping
  // around (a block never wraps).
  std::optional<Port> FindBlock(uint32_t count, Port cursor,
                                const absl::flat_hash_set<Port>& avoid) const;

  const StoredLease* Find(const std::string& id) const;
  // The lease holding `port`, if the cache knows it.
  const StoredLease* FindByPort(Port port) const;
  bool Taken(Port port) const { return taken_.contains(port); }
  bool Quarantined(Port port) const { return quarantined_.contains(port); }
  bool InPool(Port port) const;
  bool Excluded(Port port) const { return excluded_.contains(port); }
  const std::map<std::string, StoredLease>& leases() const { return leases_; }
  // Live leases of `caller`, and their ports.
  std::pair<uint32_t, uint32_t> Share(const std::string& caller) const;

  uint32_t pool_size() const { return static_cast<uint32_t>(pool_.size()); }
  // Pool ports neither taken nor quarantined, and the longest run of them.
  uint32_t FreeCount() const;
  uint32_t LargestFreeBlock() const;
  uint32_t QuarantinedInPool() const;
  uint32_t TakenInPool() const;

 private:
  void Put(const etcd::KeyValue& kv);
  // True when a port or quarantine key was deleted.
  bool Delete(const std::string& key);
  bool Free(Port port) const {
    return !taken_.contains(port) && !quarantined_.contains(port);
  }

  const KeySpace keys_;
  std::vector<Port> pool_;  // grantable ports, sorted
  std::vector<PortRange> ranges_;
  absl::flat_hash_set<Port> excluded_;
  std::map<Port, std::string> taken_;  // port -> lease id
  std::set<Port> quarantined_;
  std::map<std::string, StoredLease> leases_;
  int64_t revision_ = 0;
};

}  // namespace portlease::replicated

#endif  // PORTLEASE_SERVER_REPLICATED_LEASE_CACHE_H_
