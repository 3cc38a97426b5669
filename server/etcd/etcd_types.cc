#include "server/etcd/etcd_types.h"

#include <string>
#include <utility>

namespace portlease::etcd {

std::string PrefixEnd(absl::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    unsigned char last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

namespace {

Compare Make(std::string key, Compare::Target target, Compare::Result result,
             int64_t number) {
  Compare c;
  c.key = std::move(key);
  c.target = target;
  c.result = result;
  c.number = number;
  return c;
}

}  // namespace

Compare Compare::Version(std::string key, Result result, int64_t version) {
  return Make(std::move(key), kVersion, result, version);
}
Compare Compare::CreateRevision(std::string key, Result result, int64_t revision) {
  return Make(std::move(key), kCreate, result, revision);
}
Compare Compare::ModRevision(std::string key, Result result, int64_t revision) {
  return Make(std::move(key), kMod, result, revision);
}
Compare Compare::Lease(std::string key, Result result, int64_t lease) {
  return Make(std::move(key), kLease, result, lease);
}
Compare Compare::Value(std::string key, Result result, std::string value) {
  Compare c = Make(std::move(key), kValue, result, 0);
  c.value = std::move(value);
  return c;
}

Op Op::Range(std::string key, std::string range_end) {
  Op op;
  op.kind = kRange;
  op.key = std::move(key);
  op.range_end = std::move(range_end);
  return op;
}
Op Op::Put(std::string key, std::string value, int64_t lease) {
  Op op;
  op.kind = kPut;
  op.key = std::move(key);
  op.value = std::move(value);
  op.lease = lease;
  return op;
}
Op Op::DeleteRange(std::string key, std::string range_end) {
  Op op;
  op.kind = kDeleteRange;
  op.key = std::move(key);
  op.range_end = std::move(range_end);
  return op;
}

}  // namespace portlease::etcd
