#include "common/system/lock_graph.h"

#include "absl/synchronization/mutex.h"

namespace portlease {

void SkipLockGraphInReleaseBuilds() {
#ifdef NDEBUG
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
}

}  // namespace portlease
