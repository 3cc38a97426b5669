// ForwardingLeaseStore: a LeaseStore that passes every call to an inner
// store. The base of a decorator that forgets nothing by construction: it
// overrides only the calls it changes, and a call added to LeaseStore is
// forwarded here once instead of in every decorator.
//
//   class CountingStore : public ForwardingLeaseStore {
//    public:
//     using ForwardingLeaseStore::ForwardingLeaseStore;
//     absl::Status Put(const LeaseRecord& lease) override {
//       ++puts_;
//       return ForwardingLeaseStore::Put(lease);
//     }
//   };
//
// Thread-safe when the inner store is.
#ifndef PORTLEASE_SERVER_CORE_FORWARDING_LEASE_STORE_H_
#define PORTLEASE_SERVER_CORE_FORWARDING_LEASE_STORE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/core/lease.h"
#include "server/core/lease_store.h"

namespace portlease {

class ForwardingLeaseStore : public LeaseStore {
 public:
  // `inner` must outlive this store.
  explicit ForwardingLeaseStore(LeaseStore* inner) : inner_(inner) {}

  absl::StatusOr<std::vector<LeaseRecord>> LoadAll() override {
    return inner_->LoadAll();
  }
  absl::Status Put(const LeaseRecord& lease) override {
    return inner_->Put(lease);
  }
  absl::Status Delete(const std::string& id) override {
    return inner_->Delete(id);
  }
  absl::Status PutAudited(const LeaseRecord& lease,
                          const AuditEvent& event) override {
    return inner_->PutAudited(lease, event);
  }
  absl::Status DeleteAudited(const std::string& id,
                             const AuditEvent& event) override {
    return inner_->DeleteAudited(id, event);
  }
  absl::Status RecordEvent(const AuditEvent& event) override {
    return inner_->RecordEvent(event);
  }
  absl::StatusOr<std::vector<AuditEvent>> LoadEvents(
      const EventQuery& query) override {
    return inner_->LoadEvents(query);
  }
  absl::StatusOr<std::vector<Port>> LoadDrainedPorts() override {
    return inner_->LoadDrainedPorts();
  }
  absl::Status SetPortDrained(Port port, bool drained) override {
    return inner_->SetPortDrained(port, drained);
  }

 protected:
  LeaseStore* inner() const { return inner_; }

 private:
  LeaseStore* const inner_;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_CORE_FORWARDING_LEASE_STORE_H_
