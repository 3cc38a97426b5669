// FakeClaims: PortClaims in memory. One FakeClaimsTable stands for the host;
// each FakeClaims on it is one server, so two LeaseManagers in one test see
// each other's claims. Crash() drops a server's claims as the kernel does
// when a process dies.
#ifndef PORTLEASE_SERVER_CORE_FAKE_CLAIMS_H_
#define PORTLEASE_SERVER_CORE_FAKE_CLAIMS_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/core/port_claims.h"

namespace portlease {

// Thread-safe.
class FakeClaimsTable {
 public:
  // Port -> pid of the claiming server (TCP and UDP tracked together:
  // every lease claims TCP).
  std::vector<Port> Claim(int32_t pid, Port first, uint32_t count) {
    absl::MutexLock l(&mu_);
    std::vector<Port> taken;
    for (uint32_t p = first; p < uint32_t{first} + count; ++p) {
      auto it = holder_.find(static_cast<Port>(p));
      if (it != holder_.end() && it->second != pid) {
        taken.push_back(static_cast<Port>(p));
      }
    }
    if (!taken.empty()) return taken;
    for (uint32_t p = first; p < uint32_t{first} + count; ++p) {
      holder_[static_cast<Port>(p)] = pid;
    }
    return {};
  }
  void Unclaim(int32_t pid, Port first, uint32_t count) {
    absl::MutexLock l(&mu_);
    for (uint32_t p = first; p < uint32_t{first} + count; ++p) {
      auto it = holder_.find(static_cast<Port>(p));
      if (it != holder_.end() && it->second == pid) holder_.erase(it);
    }
  }
  std::optional<int32_t> Holder(Port port) {
    absl::MutexLock l(&mu_);
    auto it = holder_.find(port);
    if (it == holder_.end()) return std::nullopt;
    return it->second;
  }
  void DropAll(int32_t pid) {
    absl::MutexLock l(&mu_);
    std::erase_if(holder_, [pid](const auto& kv) { return kv.second == pid; });
  }
  std::set<Port> ClaimedBy(int32_t pid) {
    absl::MutexLock l(&mu_);
    std::set<Port> out;
    for (const auto& [port, holder] : holder_) {
      if (holder == pid) out.insert(port);
    }
    return out;
  }

 private:
  absl::Mutex mu_;
  std::map<Port, int32_t> holder_ ABSL_GUARDED_BY(mu_);
};

// One server's claims on a FakeClaimsTable. Thread-safe.
class FakeClaims : public PortClaims {
 public:
  FakeClaims(FakeClaimsTable* table, int32_t pid) : table_(table), pid_(pid) {}

  std::vector<Port> Claim(Port first, uint32_t count, bool) override {
    return table_->Claim(pid_, first, count);
  }
  void Unclaim(Port first, uint32_t count) override {
    table_->Unclaim(pid_, first, count);
  }
  std::optional<ClaimHolder> Holder(Port port) override {
    std::optional<int32_t> pid = table_->Holder(port);
    if (!pid.has_value() || *pid == pid_) return std::nullopt;
    return ClaimHolder{*pid, absl::StrCat("user", *pid)};
  }
  // What this server claims now.
  std::set<Port> Claimed() { return table_->ClaimedBy(pid_); }
  // The server died: the kernel drops its claims.
  void Crash() { table_->DropAll(pid_); }

 private:
  FakeClaimsTable* const table_;
  const int32_t pid_;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_FAKE_CLAIMS_H_
