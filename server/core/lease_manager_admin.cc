// LeaseManager's administrator operations: ForceRelease, DrainPort,
// UndrainPort and SetPool (lease_manager.h). The lease rules they share
// with the rest live in lease_manager.cc.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/core/lease_manager.h"
#include "server/core/pool_config.h"

namespace portlease {

using State = PortView::State;

absl::StatusOr<LeaseRecord> LeaseManager::ForceRelease(
    absl::string_view id_prefix, Port port, const Principal& by) {
  if (absl::Status ok = CheckForceReleaseTarget(id_prefix, port); !ok.ok()) {
    return ok;
  }
  Completions done;
  absl::StatusOr<LeaseRecord> result;
  {
    absl::MutexLock lock(&mu_);
    Housekeep(&done);
    std::vector<std::string> matches;
    if (!id_prefix.empty()) {
      matches = leases_.LiveIdsWithPrefix(id_prefix);
    } else {
      const Entry* entry = leases_.FindByPort(port);
      if (entry != nullptr && entry->record.state == LeaseState::kLive &&
          !entry->ending) {
        matches.push_back(entry->record.id);
      }
    }
    if (absl::Status one =
            CheckForceReleaseMatches(id_prefix, port, matches.size());
        !one.ok()) {
      result = one;
    } else {
      LeaseRecord ended = leases_.Find(matches[0])->record;
      if (absl::Status end =
              EndLeaseWithLockHeld(matches[0], LeaseEvent::Type::kForceReleased,
                                   &by);
          !end.ok()) {
        result = end;  // UNAVAILABLE: store refused, or a probe fault
      } else {
        result = std::move(ended);
      }
    }
    ServeWaiters(&done);
  }
  done.Run();
  return result;
}

absl::Status LeaseManager::CommitDrained(Port port, bool drained,
                                         const Principal& by) {
  absl::Status committed = store_->SetPortDrained(port, drained);
  if (committed.ok()) return committed;
  Emit(LeaseEvent::Type::kStoreError, nullptr, port, committed.ToString(),
       &by);
  return absl::UnavailableError(absl::StrCat(
      "cannot commit the ", drained ? "drain" : "undrain", " of port ", port,
      " to the store; it stays ", drained ? "in service" : "drained",
      ", retry: ", committed.message()));
}

absl::Status LeaseManager::DrainPort(Port port, const Principal& by) {
  absl::MutexLock lock(&mu_);
  if (!ports_.Rests(port)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "port ", port, " is not in the pool (or is excluded): nothing to drain"));
  }
  if (ports_.drained(port)) return absl::OkStatus();
  absl::Status committed = CommitDrained(port, true, by);
  if (!committed.ok()) return committed;
  const State was = ports_.state(port);
  ports_.SetDrained(port, true);
  EmitRecorded(LeaseEvent::Type::kPortDrained, port,
               absl::StrCat("was ", PortStateName(was)), by);
  return absl::OkStatus();
}

absl::Status LeaseManager::UndrainPort(Port port, const Principal& by) {
  Completions done;
  {
    absl::MutexLock lock(&mu_);
    if (!ports_.drained(port) && ports_.resting(port) != State::kFree) {
      return absl::InvalidArgumentError(absl::StrCat(
          "port ", port, " is not in the pool (or is excluded): nothing to undrain"));
    }
    if (!ports_.drained(port)) return absl::OkStatus();
    absl::Status committed = CommitDrained(port, false, by);
    if (!committed.ok()) return committed;
    ports_.SetDrained(port, false);
    serve_pending_ = true;
    EmitRecorded(LeaseEvent::Type::kPortUndrained, port, "", by);
    ServeWaiters(&done);
  }
  done.Run();
  return absl::OkStatus();
}

absl::StatusOr<PoolChange> LeaseManager::SetPool(std::vector<PortRange> pool,
                                                 std::vector<Port> exclude,
                                                 const Principal& by) {
  absl::StatusOr<PoolConfig> config =
      PoolConfig::Make(std::move(pool), std::move(exclude), options_.pool_fit);
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(config.status().message(),
                                     "; the pool was not changed"));
  }
  Completions done;
  PoolChange change;
  {
    absl::MutexLock lock(&mu_);
    Housekeep(&done);
    ports_.Rebuild(config->ranges(), config->excluded());
    leases_.ForEachFrom(0, [&](const LeaseRecord& r) {
      if (r.state != LeaseState::kLive) return true;
      for (uint32_t p = r.base; p <= r.last(); ++p) {
        if (!ports_.InPool(static_cast<Port>(p))) {
          ++change.leases_outside_pool;
          break;
        }
      }
      return true;
    });
    change.pool = config->ranges();
    change.exclude = config->exclude();
    change.pool_size = ports_.pool_size();
    EmitRecorded(LeaseEvent::Type::kPoolChanged, 0,
         absl::StrCat("pool=", FormatPortRanges(change.pool), " exclude=",
                      change.exclude.empty() ? "-" : FormatPortList(change.exclude),
                      " (", change.pool_size, " ports), ",
                      change.leases_outside_pool,
                      " live leases outside it"),
         by);
    serve_pending_ = true;
    ServeWaiters(&done);
  }
  done.Run();
  return change;
}

}  // namespace portlease
