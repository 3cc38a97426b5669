// FakeProber: a PortProber whose busy ports (and resource faults) a test
// sets by hand.
#ifndef PORTLEASE_SERVER_CORE_FAKE_PROBER_H_
#define PORTLEASE_SERVER_CORE_FAKE_PROBER_H_

#include <set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "server/core/port_prober.h"

namespace portlease {

// Thread-safe. Counts Busy() calls so tests can check probing is bounded.
class FakeProber : public PortProber {
 public:
  void SetBusy(Port port, bool busy) {
    absl::MutexLock l(&mu_);
    if (busy) {
      busy_.insert(port);
    } else {
      busy_.erase(port);
    }
    remnants_.erase(port);
  }
  // Busy, but not Held: what a closed connection's TIME_WAIT looks like.
  void SetRemnant(Port port) {
    absl::MutexLock l(&mu_);
    busy_.insert(port);
    remnants_.insert(port);
  }
  // From now on every Busy and Held call fails with `fault` (OK: none), as
  // a SystemProber out of file descriptors does.
  void SetFault(absl::Status fault) {
    absl::MutexLock l(&mu_);
    fault_ = std::move(fault);
  }
  int calls() {
    absl::MutexLock l(&mu_);
    return calls_;
  }
  absl::StatusOr<std::vector<Port>> Busy(Port first, uint32_t count,
                                         bool udp) override {
    absl::MutexLock l(&mu_);
    ++calls_;
    if (!fault_.ok()) return fault_;
    std::vector<Port> out;
    for (auto it = busy_.lower_bound(first);
         it != busy_.end() && *it < uint32_t{first} + count; ++it) {
      out.push_back(*it);
    }
    return out;
  }
  absl::StatusOr<std::vector<Port>> Held(Port first, uint32_t count,
                                         bool udp) override {
    absl::StatusOr<std::vector<Port>> out = Busy(first, count, udp);
    if (!out.ok()) return out;
    absl::MutexLock l(&mu_);
    std::erase_if(*out, [this](Port p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return remnants_.contains(p);
    });
    return out;
  }

 private:
  absl::Mutex mu_;
  std::set<Port> busy_ ABSL_GUARDED_BY(mu_);
  std::set<Port> remnants_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status fault_ ABSL_GUARDED_BY(mu_);
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_FAKE_PROBER_H_
