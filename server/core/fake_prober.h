// FakeProber: a PortProber whose busy ports a test sets by hand.
#ifndef PORTLEASE_SERVER_CORE_FAKE_PROBER_H_
#define PORTLEASE_SERVER_CORE_FAKE_PROBER_H_

#include <set>
#include <vector>

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
  int calls() {
    absl::MutexLock l(&mu_);
    return calls_;
  }
  std::vector<Port> Busy(Port first, uint32_t count, bool udp) override {
    absl::MutexLock l(&mu_);
    ++calls_;
    std::vector<Port> out;
    for (auto it = busy_.lower_bound(first);
         it != busy_.end() && *it < uint32_t{first} + count; ++it) {
      out.push_back(*it);
    }
    return out;
  }
  std::vector<Port> Held(Port first, uint32_t count, bool udp) override {
    std::vector<Port> out = Busy(first, count, udp);
    absl::MutexLock l(&mu_);
    std::erase_if(out, [this](Port p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return remnants_.contains(p);
    });
    return out;
  }

 private:
  absl::Mutex mu_;
  std::set<Port> busy_ ABSL_GUARDED_BY(mu_);
  std::set<Port> remnants_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_FAKE_PROBER_H_
