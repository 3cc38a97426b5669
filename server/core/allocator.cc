#include "server/core/allocator.h"

#include <algorithm>

namespace portlease {

PortAllocator::PortAllocator(const std::vector<PortRange>& pool,
                             const std::vector<Port>& exclude)
    : node_(2 * kLeaves), in_pool_(kLeaves, false) {
  for (const PortRange& r : pool) {
    for (uint32_t p = r.lo; p <= r.hi; ++p) in_pool_[p] = true;
  }
  for (Port p : exclude) in_pool_[p] = false;
  in_pool_[0] = false;
  for (uint32_t p = 0; p < kLeaves; ++p) {
    const uint32_t v = in_pool_[p] ? 1 : 0;
    node_[kLeaves + p] = Node{v, v, v};
    pool_size_ += v;
  }
  available_ = pool_size_;
  uint32_t width = 2;
  for (uint32_t first = kLeaves / 2; first >= 1; first /= 2, width *= 2) {
    for (uint32_t n = first; n < 2 * first; ++n) Pull(n, width);
  }
}

void PortAllocator::Pull(uint32_t n, uint32_t width) {
  const uint32_t half = width / 2;
  const Node& l = node_[2 * n];
  const Node& r = node_[2 * n + 1];
  Node& out = node_[n];
  out.prefix = l.prefix == half ? half + r.prefix : l.prefix;
  out.suffix = r.suffix == half ? half + l.suffix : r.suffix;
  out.best = std::max({l.best, r.best, l.suffix + r.prefix});
}

void PortAllocator::SetLeaf(uint32_t port, bool available) {
  const uint32_t v = available ? 1 : 0;
  uint32_t n = kLeaves + port;
  if (node_[n].best == v) return;
  available_ += available ? 1 : -1;
  node_[n] = Node{v, v, v};
  uint32_t width = 2;
  for (n /= 2; n >= 1; n /= 2, width *= 2) Pull(n, width);
}

void PortAllocator::Set(Port first, uint32_t count, bool available) {
  for (uint32_t p = first; p < uint32_t{first} + count && p < kLeaves; ++p) {
    if (available && !in_pool_[p]) continue;
    SetLeaf(p, available);
  }
}

bool PortAllocator::IsAvailable(Port port) const {
  return node_[kLeaves + port].best == 1;
}

std::optional<uint32_t> PortAllocator::FindIn(uint32_t n, uint32_t node_lo,
                                              uint32_t width, uint32_t lo,
                                              uint32_t count,
                                              uint32_t* carry) const {
  if (node_lo + width <= lo) return std::nullopt;
  const Node& node = node_[n];
  if (node_lo >= lo) {
    if (*carry + node.prefix >= count) return node_lo - *carry;
    if (node.best < count) {
      *carry = node.prefix == width ? *carry + width : node.suffix;
      return std::nullopt;
    }
  }
  // Partly before `lo`, or the run lies inside: look at the children in order.
  const uint32_t half = width / 2;
  if (auto found = FindIn(2 * n, node_lo, half, lo, count, carry)) return found;
  return FindIn(2 * n + 1, node_lo + half, half, lo, count, carry);
}

std::optional<uint32_t> PortAllocator::FindFrom(uint32_t lo,
                                                uint32_t count) const {
  if (lo >= kLeaves) return std::nullopt;
  uint32_t carry = 0;
  return FindIn(1, 0, kLeaves, lo, count, &carry);
}

std::optional<Port> PortAllocator::Find(uint32_t count) const {
  if (count == 0 || count > node_[1].best) return std::nullopt;
  std::optional<uint32_t> start = FindFrom(cursor_, count);
  if (!start) start = FindFrom(0, count);
  if (!start) return std::nullopt;
  return static_cast<Port>(*start);
}

}  // namespace portlease
