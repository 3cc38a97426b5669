#include "server/core/port_table.h"

#include <algorithm>
#include <iterator>

namespace portlease {

namespace {
constexpr uint32_t kPorts = 65536;
}  // namespace

PortTable::PortTable(const std::vector<PortRange>& pool,
                     const std::vector<Port>& exclude)
    : allocator_(pool, exclude),
      state_(kPorts, State::kOutsidePool),
      resting_(kPorts, State::kOutsidePool),
      drained_(kPorts, false) {
  Rebuild(pool, exclude);
}

void PortTable::Rebuild(const std::vector<PortRange>& pool,
                        const std::vector<Port>& exclude) {
  allocator_ = PortAllocator(pool, exclude);
  std::vector<bool> in_ranges(kPorts, false);
  for (const PortRange& r : pool) {
    for (uint32_t p = r.lo; p <= r.hi; ++p) in_ranges[p] = true;
  }
  std::fill(std::begin(count_), std::end(count_), 0);
  for (uint32_t p = 0; p < kPorts; ++p) {
    const Port port = static_cast<Port>(p);
    if (allocator_.InPool(port)) {
      resting_[p] = drained_[p] ? State::kDisabled : State::kFree;
    } else {
      resting_[p] = in_ranges[p] ? State::kExcluded : State::kOutsidePool;
    }
    switch (state_[p]) {
      // Owned by a lease, or on a timer that returns the port to rest.
      case State::kLeased:
      case State::kDraining:
      case State::kQuarantined:
      case State::kBusy:
        break;
      default:
        state_[p] = resting_[p];
    }
    if (state_[p] != State::kFree) allocator_.Set(port, 1, false);
    count_[static_cast<int>(state_[p])]++;
  }
}

void PortTable::Set(Port first, uint32_t count, State state) {
  bool all_free = true;
  for (uint32_t p = first; p < uint32_t{first} + count; ++p) {
    const State target = state == State::kFree ? resting_[p] : state;
    count_[static_cast<int>(state_[p])]--;
    count_[static_cast<int>(target)]++;
    state_[p] = target;
    all_free = all_free && target == State::kFree;
  }
  if (all_free || state != State::kFree) {
    allocator_.Set(first, count, state == State::kFree);
    return;
  }
  for (uint32_t p = first; p < uint32_t{first} + count; ++p) {  // some rest disabled
    allocator_.Set(static_cast<Port>(p), 1, state_[p] == State::kFree);
  }
}

void PortTable::SetDrained(Port port, bool drained) {
  drained_[port] = drained;
  if (!Rests(port)) return;  // outside the pool: remembered for Rebuild
  resting_[port] = drained ? State::kDisabled : State::kFree;
  const State at_rest_before = drained ? State::kFree : State::kDisabled;
  if (state_[port] == at_rest_before) Set(port, 1, State::kFree);
}

void PortTable::Quarantine(Port first, uint32_t count, absl::Duration until) {
  Set(first, count, State::kQuarantined);
  quarantine_.push_back({until, first, count});
}

bool PortTable::BackOff(Port port, absl::Duration until) {
  if (state_[port] != State::kFree) return false;
  Set(port, 1, State::kBusy);
  backoff_.push_back({until, port, 1});
  return true;
}

bool PortTable::EndTimers(absl::Duration now, std::vector<Port>* cooled) {
  std::vector<Port> backed_off;
  const bool cooled_any =
      EndDue(&quarantine_, State::kQuarantined, now, cooled);
  const bool backed_off_any =
      EndDue(&backoff_, State::kBusy, now, &backed_off);
  return cooled_any || backed_off_any;
}

bool PortTable::EndDue(std::deque<Timer>* timers, State expected,
                       absl::Duration now, std::vector<Port>* ended) {
  bool any = false;
  while (!timers->empty() && timers->front().until <= now) {
    const Timer t = timers->front();
    timers->pop_front();
    for (uint32_t p = t.first; p < uint32_t{t.first} + t.count; ++p) {
      if (state_[p] != expected) continue;
      Set(static_cast<Port>(p), 1, State::kFree);
      ended->push_back(static_cast<Port>(p));
      any = true;
    }
  }
  return any;
}

std::optional<absl::Duration> PortTable::NextTimer() const {
  std::optional<absl::Duration> next;
  for (const std::deque<Timer>* timers : {&quarantine_, &backoff_}) {
    if (timers->empty()) continue;
    if (!next.has_value() || timers->front().until < *next) {
      next = timers->front().until;
    }
  }
  return next;
}

}  // namespace portlease
