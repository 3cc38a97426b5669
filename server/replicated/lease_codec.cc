#include "server/replicated/lease_codec.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "portlease/replicated/replicated_lease.pb.h"

namespace portlease::replicated {
namespace {

int64_t UnixNanos(absl::Time t) {
  if (t == absl::InfinitePast()) return 0;
  return absl::ToUnixNanos(t);
}

absl::Time FromUnixNanos(int64_t nanos) {
  return nanos == 0 ? absl::InfinitePast() : absl::FromUnixNanos(nanos);
}

}  // namespace

std::string EncodeLease(const LeaseRecord& record, int64_t etcd_lease) {
  ReplicatedLease message;
  message.set_id(record.id);
  for (const std::string& name : record.names) message.add_names(name);
  message.set_base(record.base);
  message.set_count(record.count);
  message.set_udp(record.udp);
  for (const auto& [key, value] : record.owner) {
    (*message.mutable_owner())[key] = value;
  }
  message.set_request_id(record.request_id);
  message.set_caller(record.caller);
  message.set_created_at_unix_nanos(UnixNanos(record.created_at));
  message.set_expires_at_unix_nanos(UnixNanos(record.expires_at));
  message.set_ttl_nanos(absl::ToInt64Nanoseconds(record.ttl));
  message.set_held(record.held);
  message.set_etcd_lease(etcd_lease);
  message.set_fencing_token(record.fencing_token);
  return message.SerializeAsString();
}

absl::StatusOr<StoredLease> DecodeLease(const etcd::KeyValue& kv,
                                        const std::string& id) {
  ReplicatedLease message;
  if (!message.ParseFromString(kv.value) || message.id() != id ||
      message.count() == 0 || message.base() == 0 ||
      uint64_t{message.base()} + message.count() > 65536) {
    return absl::DataLossError(absl::StrCat(
        "etcd key ", absl::CHexEscape(kv.key),
        " does not hold a valid lease record"));
  }
  StoredLease stored;
  LeaseRecord& r = stored.record;
  r.id = message.id();
  r.names.assign(message.names().begin(), message.names().end());
  r.base = static_cast<Port>(message.base());
  r.count = message.count();
  r.udp = message.udp();
  r.owner.insert(message.owner().begin(), message.owner().end());
  r.request_id = message.request_id();
  r.caller = message.caller();
  r.created_at = FromUnixNanos(message.created_at_unix_nanos());
  r.expires_at = FromUnixNanos(message.expires_at_unix_nanos());
  r.ttl = absl::Nanoseconds(message.ttl_nanos());
  r.state = LeaseState::kLive;
  r.held = message.held();
  r.fencing_token = static_cast<uint64_t>(kv.create_revision);
  stored.etcd_lease = message.etcd_lease();
  stored.mod_revision = kv.mod_revision;
  return stored;
}

}  // namespace portlease::replicated
