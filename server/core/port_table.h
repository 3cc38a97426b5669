// PortTable: the state of every port (0-65535) under one pool. Each port
// has a resting state, the one it takes when nobody has it: free (in the
// pool), disabled (in the pool but drained by an administrator), excluded
// (in the pool's ranges but excluded) or outside the pool. On top of that a
// port is leased, draining, cooling down (quarantined, on a timer) or
// backed off (busy: bound by someone else, on a timer). The table keeps the
// allocator (which free blocks exist) and the count of ports in each state
// in step with the states, and runs the two timers.
//
// Example:
//   PortTable ports({{20000, 20099}}, /*exclude=*/{20005});
//   std::optional<Port> base = ports.Find(3);
//   ports.Set(*base, 3, PortView::State::kLeased);
//   ...
//   ports.Quarantine(*base, 3, now + cooldown);
//   std::vector<Port> cooled = ports.EndTimers(later);  // free again
//
// Not thread-safe: LeaseManager holds its lock around every call.
#ifndef PORTLEASE_SERVER_CORE_PORT_TABLE_H_
#define PORTLEASE_SERVER_CORE_PORT_TABLE_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "server/core/allocator.h"
#include "server/core/lease.h"
#include "server/core/port_view.h"

namespace portlease {

class PortTable {
 public:
  using State = PortView::State;

  // Every port of `pool` but `exclude` free; every other port excluded (in
  // a range of `pool`) or outside the pool.
  PortTable(const std::vector<PortRange>& pool,
            const std::vector<Port>& exclude);

  // Applies a new pool. A port owned by a lease (leased, draining) or on a
  // timer (cooling down, backed off) keeps its state, and takes its new
  // resting state when it comes back; every other port rests at once. A
  // drained port rests disabled while it is in the pool.
  void Rebuild(const std::vector<PortRange>& pool,
               const std::vector<Port>& exclude);

  State state(Port port) const { return state_[port]; }
  // The state `port` takes when nobody has it.
  State resting(Port port) const { return resting_[port]; }
  // In the pool, whether or not drained.
  bool Rests(Port port) const {
    return resting_[port] == State::kFree || resting_[port] == State::kDisabled;
  }
  bool drained(Port port) const { return drained_[port]; }
  bool InPool(Port port) const { return allocator_.InPool(port); }

  // Moves ports [first, first + count) to `state`; kFree means each port's
  // resting state (a drained port rests disabled).
  void Set(Port first, uint32_t count, State state);

  // Marks `port` drained (or not). A drained port in the pool rests
  // disabled, and goes there at once when it is free; an undrained one in
  // the pool rests free again, and leaves disabled at once. A drained port
  // outside the pool is remembered for a later Rebuild.
  void SetDrained(Port port, bool drained);

  // Cooling down until `until` (monotonic), then free.
  void Quarantine(Port first, uint32_t count, absl::Duration until);
  // A free `port` backed off (busy) until `until`; false, and nothing
  // changed, when it is not free.
  bool BackOff(Port port, absl::Duration until);
  // Ends the cool-downs and back-offs due at `now`: those ports rest again.
  // Adds the ports whose cool-down ended (no longer this server's) to
  // `cooled`. True when any port came back.
  bool EndTimers(absl::Duration now, std::vector<Port>* cooled);
  // When the next timer ends; nullopt when none runs.
  std::optional<absl::Duration> NextTimer() const;

  // Allocation (see PortAllocator).
  std::optional<Port> Find(uint32_t count) const {
    return allocator_.Find(count);
  }
  void AdvanceCursor(Port port) { allocator_.AdvanceCursor(port); }

  uint32_t pool_size() const { return allocator_.pool_size(); }
  uint32_t available() const { return allocator_.available(); }
  uint32_t largest_block() const { return allocator_.largest_block(); }
  // How many ports are in `state`.
  uint32_t count(State state) const {
    return count_[static_cast<int>(state)];
  }

 private:
  struct Timer {
    absl::Duration until;
    Port first;
    uint32_t count;
  };

  // Resting states for `pool` and `exclude`, the allocator rebuilt.
  void Rest(const std::vector<PortRange>& pool,
            const std::vector<Port>& exclude);
  // The due timers of `timers`, whose ports are in `expected` state unless
  // something else took them since. True when any port came back.
  bool EndDue(std::deque<Timer>* timers, State expected, absl::Duration now,
              std::vector<Port>* ended);

  PortAllocator allocator_;
  std::vector<State> state_;    // by port
  std::vector<State> resting_;  // by port
  std::vector<bool> drained_;   // by port, in the pool or not
  uint32_t count_[8] = {};      // by state
  std::deque<Timer> quarantine_;
  std::deque<Timer> backoff_;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_PORT_TABLE_H_
