// KeySpace: where EtcdLeaseBackend keeps its state in etcd, under a prefix P
// (default "/portlease/"). Ports are 5 digits so that key order is port
// order and a block is one key range:
//
//   P ports/<port, 5 digits>        -> lease id            (lease's etcd lease)
//   P leases/<id>                   -> ReplicatedLease     (lease's etcd lease)
//   P requests/<caller>/<request_id> -> lease id           (lease's etcd lease)
//   P quarantine/<port, 5 digits>   -> ""                  (a cool-down lease)
//
// caller and request_id are escaped (KeySpace::Escape) so that neither can
// contain '/'. Plain functions of a value type: thread-safe.
#ifndef PORTLEASE_SERVER_REPLICATED_KEYS_H_
#define PORTLEASE_SERVER_REPLICATED_KEYS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "common/port/port.h"

namespace portlease::replicated {

class KeySpace {
 public:
  explicit KeySpace(std::string prefix) : prefix_(std::move(prefix)) {}

  const std::string& prefix() const { return prefix_; }
  std::string PortKey(Port port) const;
  // The range end of ports first..last: PortKey(last + 1).
  std::string PortEnd(Port last) const;
  std::string LeaseKey(absl::string_view id) const;
  std::string RequestKey(absl::string_view caller,
                      absl::string_view request_id) const;
  std::string QuarantineKey(Port port) const;
  std::string QuarantineEnd(Port last) const;

  enum class Kind { kPort, kLease, kRequest, kQuarantine, kOther };
  struct Parsed {
    Kind kind = Kind::kOther;
    Port port = 0;  // kPort, kQuarantine
    std::string id;              // kLease
  };
  // What a key under the prefix is; kOther for anything else.
  Parsed Parse(absl::string_view key) const;

  // Bytes outside [A-Za-z0-9:._@-] as %XX.
  static std::string Escape(absl::string_view text);

 private:
  std::string PortIn(absl::string_view folder, uint32_t port) const;

  std::string prefix_;
};

}  // namespace portlease::replicated

#endif  // PORTLEASE_SERVER_REPLICATED_KEYS_H_
