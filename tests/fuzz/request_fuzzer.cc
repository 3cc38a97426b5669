// Fuzzes request validation: AcquireRequest bytes -> AcquireParamsFromProto
// -> LeaseManager::Validate and Acquire on a memory store. Every request
// must either be refused with a status or granted a lease that fits the
// pool; nothing may crash, leak or overflow.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/stubs/logging.h"
#include "portlease/v1/portlease.pb.h"
#include "server/core/fake_clock.h"
#include "server/core/lease_manager.h"
#include "server/core/port_prober.h"
#include "server/core/test_callers.h"
#include "server/service/convert.h"
#include "server/store/memory_lease_store.h"

namespace portlease {
namespace {

constexpr Port kPoolLo = 20000;
constexpr Port kPoolHi = 20127;

struct World {
  FakeClock clock;
  MemoryLeaseStore store;
  TrustingProber prober;
  std::unique_ptr<LeaseManager> manager;

  World() {
    LeaseManagerOptions options;
    options.pool = {PortRange{kPoolLo, kPoolHi}};
    options.cooldown = absl::ZeroDuration();
    uint64_t next = 0;
    options.new_id = [next]() mutable {
      char id[33];
      std::snprintf(id, sizeof(id), "%032llx",
                    static_cast<unsigned long long>(++next));
      return std::string(id);
    };
    auto created = LeaseManager::Create(std::move(options), &clock, &store,
                                        &prober);
    if (!created.ok()) std::abort();
    manager = *std::move(created);
  }
};

}  // namespace
}  // namespace portlease

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // Invalid UTF-8 in string fields is expected here; don't log each one.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace portlease;
  static World* world = new World();
  v1::AcquireRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  absl::StatusOr<AcquireParams> params = AcquireParamsFromProto(request);
  if (!params.ok()) return 0;
  params->caller = kAlice;
  const absl::Status valid = world->manager->Validate(*params);
  absl::StatusOr<LeaseRecord> lease = world->manager->Acquire(*params);
  if (!valid.ok() && lease.ok()) std::abort();  // granted an invalid request
  if (!lease.ok()) return 0;
  if (lease->count == 0 || lease->base < kPoolLo || lease->last() > kPoolHi ||
      lease->last() < lease->base ||
      (!lease->names.empty() && lease->names.size() != lease->count)) {
    std::abort();  // a grant outside the pool or of the wrong shape
  }
  v1::Lease out;
  LeaseToProto(*lease, LeaseIdVisibility::kFull, &out);
  if (!world->manager->Release(lease->id, kAlice).ok()) std::abort();
  return 0;
}
