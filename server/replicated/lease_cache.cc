#include "server/replicated/lease_cache.h"

#include <algorithm>
#include <utility>

namespace portlease::replicated {

LeaseCache::LeaseCache(KeySpace keys, const PoolConfig& pool)
    : keys_(std::move(keys)), ranges_(pool.ranges()) {
  excluded_.insert(pool.excluded().begin(), pool.excluded().end());
  for (const PortRange& range : ranges_) {
    for (uint32_t p = range.lo; p <= range.hi; ++p) {
      if (!excluded_.contains(static_cast<Port>(p))) {
        pool_.push_back(static_cast<Port>(p));
      }
    }
  }
  std::sort(pool_.begin(), pool_.end());
}

void LeaseCache::Reset(const std::vector<etcd::KeyValue>& kvs,
                       int64_t revision) {
  taken_.clear();
  quarantined_.clear();
  leases_.clear();
  for (const etcd::KeyValue& kv : kvs) Put(kv);
  revision_ = revision;
}

bool LeaseCache::Apply(const etcd::WatchBatch& batch) {
  bool freed = false;
  for (const etcd::WatchEvent& event : batch.events) {
    if (event.kv.mod_revision <= revision_) continue;  // seen by a Reset
    if (event.type == etcd::WatchEvent::kPut) {
      Put(event.kv);
    } else {
      freed = Delete(event.kv.key) || freed;
    }
  }
  revision_ = std::max(revision_, batch.revision);
  return freed;
}

void LeaseCache::Observe(const std::vector<etcd::KeyValue>& kvs,
                         int64_t revision) {
  if (revision <= revision_) return;
  for (const etcd::KeyValue& kv : kvs) Put(kv);
}

void LeaseCache::Put(const etcd::KeyValue& kv) {
  KeySpace::Parsed parsed = keys_.Parse(kv.key);
  switch (parsed.kind) {
    case KeySpace::Kind::kPort:
      taken_[parsed.port] = kv.value;
      break;
    case KeySpace::Kind::kQuarantine:
      quarantined_.insert(parsed.port);
      break;
    case KeySpace::Kind::kLease: {
      absl::StatusOr<StoredLease> stored = DecodeLease(kv, parsed.id);
      // A record this version cannot read holds its ports all the same
      // (their port keys say so); it is just not listed.
      if (stored.ok()) leases_[parsed.id] = *std::move(stored);
      break;
    }
    default:
      break;
  }
}

bool LeaseCache::Delete(const std::string& key) {
  KeySpace::Parsed parsed = keys_.Parse(key);
  switch (parsed.kind) {
    case KeySpace::Kind::kPort:
      return taken_.erase(parsed.port) > 0;
    case KeySpace::Kind::kQuarantine:
      return quarantined_.erase(parsed.port) > 0;
    case KeySpace::Kind::kLease:
      leases_.erase(parsed.id);
      return false;
    default:
      return false;
  }
}

std::optional<Port> LeaseCache::FindBlock(
    uint32_t count, Port cursor, const absl::flat_hash_set<Port>& avoid) const {
  const size_t n = pool_.size();
  if (count == 0 || n == 0) return std::nullopt;
  const size_t start =
      static_cast<size_t>(std::lower_bound(pool_.begin(), pool_.end(), cursor) -
                          pool_.begin()) % n;
  uint32_t run = 0;
  for (size_t k = 0; k < n + count; ++k) {
    const size_t i = (start + k) % n;
    const Port p = pool_[i];
    const bool usable = Free(p) && !avoid.contains(p);
    const bool continues = run > 0 && i > 0 && pool_[i - 1] + 1 == p;
    run = !usable ? 0 : continues ? run + 1 : 1;
    if (run >= count) return static_cast<Port>(p - count + 1);
  }
  return std::nullopt;
}

const StoredLease* LeaseCache::Find(const std::string& id) const {
  auto it = leases_.find(id);
  return it == leases_.end() ? nullptr : &it->second;
}

const StoredLease* LeaseCache::FindByPort(Port port) const {
  auto it = taken_.find(port);
  return it == taken_.end() ? nullptr : Find(it->second);
}

bool LeaseCache::InPool(Port port) const {
  return std::any_of(ranges_.begin(), ranges_.end(), [port](const PortRange& r) {
    return r.lo <= port && port <= r.hi;
  });
}

std::pair<uint32_t, uint32_t> LeaseCache::Share(
    const std::string& caller) const {
  std::pair<uint32_t, uint32_t> share;
  for (const auto& [id, stored] : leases_) {
    if (stored.record.caller != caller) continue;
    ++share.first;
    share.second += stored.record.count;
  }
  return share;
}

uint32_t LeaseCache::FreeCount() const {
  return static_cast<uint32_t>(std::count_if(
      pool_.begin(), pool_.end(), [this](Port p) { return Free(p); }));
}

uint32_t LeaseCache::LargestFreeBlock() const {
  uint32_t best = 0;
  uint32_t run = 0;
  for (size_t i = 0; i < pool_.size(); ++i) {
    const bool continues = i > 0 && pool_[i - 1] + 1 == pool_[i];
    run = !Free(pool_[i]) ? 0 : (continues && run > 0) ? run + 1 : 1;
    best = std::max(best, run);
  }
  return best;
}

uint32_t LeaseCache::QuarantinedInPool() const {
  return static_cast<uint32_t>(std::count_if(
      pool_.begin(), pool_.end(),
      [this](Port p) { return quarantined_.contains(p); }));
}

uint32_t LeaseCache::TakenInPool() const {
  return static_cast<uint32_t>(std::count_if(
      pool_.begin(), pool_.end(), [this](Port p) { return taken_.contains(p); }));
}

}  // namespace portlease::replicated
