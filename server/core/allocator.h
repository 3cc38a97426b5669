// PortAllocator: finds free contiguous blocks of ports in the pool.
//
// Every port 0..65535 is a leaf of a segment tree that records, per node,
// the longest run of available ports and the runs touching each edge, so
// finding a block of n ports or marking a port taken is O(log 65536) however
// full or fragmented the pool is. Ports outside the pool start unavailable.
//
// Allocation is next-fit: the search starts after the previous grant and
// wraps around, so freed ports are reused as late as possible.
//
// Not thread-safe; LeaseManager owns one under its mutex.
#ifndef PORTLEASE_SERVER_CORE_ALLOCATOR_H_
#define PORTLEASE_SERVER_CORE_ALLOCATOR_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "server/core/lease.h"
#include "server/core/pool_config.h"

namespace portlease {

class PortAllocator {
 public:
  // `pool` must not overlap itself; `exclude` ports are never available.
  PortAllocator(const std::vector<PortRange>& pool,
                const std::vector<Port>& exclude);

  // True when the port is in the pool and not excluded.
  bool InPool(Port port) const { return in_pool_[port]; }
  uint32_t pool_size() const { return pool_size_; }
  // Number of available ports, and the longest run of them.
  uint32_t available() const { return available_; }
  uint32_t largest_block() const { return node_[1].best; }

  // The first port of an available block of `count` ports at or after the
  // cursor (wrapping), or nullopt. Does not take the block.
  std::optional<Port> Find(uint32_t count) const;

  // Marks ports available (true) or taken (false). Setting a port outside
  // the pool available is a no-op.
  void Set(Port first, uint32_t count, bool available);
  bool IsAvailable(Port port) const;

  // Moves the next-fit cursor just past `port`.
  void AdvanceCursor(Port port) { cursor_ = uint32_t{port} + 1; }

 private:
  static constexpr uint32_t kLeaves = 65536;
  struct Node {
    uint32_t best = 0;    // longest run of available leaves in this node
    uint32_t prefix = 0;  // run starting at the node's left edge
    uint32_t suffix = 0;  // run ending at the node's right edge
  };
  void SetLeaf(uint32_t port, bool available);
  void Pull(uint32_t node, uint32_t width);
  // First start >= lo of a run of `count` lying entirely within [lo, kLeaves).
  std::optional<uint32_t> FindFrom(uint32_t lo, uint32_t count) const;
  std::optional<uint32_t> FindIn(uint32_t node, uint32_t node_lo,
                                 uint32_t width, uint32_t lo, uint32_t count,
                                 uint32_t* carry) const;

  std::vector<Node> node_;     // 1-based heap layout, 2 * kLeaves nodes
  std::vector<bool> in_pool_;  // by port
  uint32_t pool_size_ = 0;
  uint32_t available_ = 0;
  uint32_t cursor_ = 0;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_ALLOCATOR_H_
