#include "server/store/lease_codec.h"

#include <cstdint>
#include <limits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace portlease {
namespace {

constexpr int kMaxVarintBytes = 5;

void AppendString(absl::string_view s, std::string* out) {
  uint64_t n = s.size();
  // Callers never pass more than 4 GiB: a lease's strings are bounded far
  // below that by the service's request limits.
  while (n >= 0x80) {
    out->push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out->push_back(static_cast<char>(n));
  out->append(s.data(), s.size());
}

// Reads the strings of `blob`, one by one.
class StringReader {
 public:
  explicit StringReader(absl::string_view blob) : blob_(blob) {}

  bool done() const { return pos_ == blob_.size(); }

  // Reads the next string into `*s` (a view into the blob). Call only when
  // !done().
  absl::Status Next(absl::string_view* s) {
    const size_t start = pos_;
    uint64_t length = 0;
    for (int i = 0;; ++i) {
      if (i == kMaxVarintBytes) {
        return Corrupt(start, "length varint longer than 5 bytes");
      }
      if (pos_ == blob_.size()) return Corrupt(start, "truncated length varint");
      const uint8_t byte = static_cast<uint8_t>(blob_[pos_++]);
      length |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
      if ((byte & 0x80) == 0) {
        if (byte == 0 && i > 0) {
          return Corrupt(start, "overlong length varint");
        }
        break;
      }
    }
    if (length > std::numeric_limits<uint32_t>::max()) {
      return Corrupt(start, absl::StrCat("length ", length, " too large"));
    }
    if (length > blob_.size() - pos_) {
      return Corrupt(start, absl::StrCat("length ", length, " runs past the end (",
                                         blob_.size() - pos_, " bytes left)"));
    }
    *s = blob_.substr(pos_, length);
    pos_ += length;
    return absl::OkStatus();
  }

  absl::Status Corrupt(size_t offset, absl::string_view what) const {
    return absl::DataLossError(absl::StrCat(what, " at byte ", offset, " of ",
                                            blob_.size()));
  }

 private:
  absl::string_view blob_;
  size_t pos_ = 0;
};

}  // namespace

void EncodeLeaseNames(const std::vector<std::string>& names, std::string* out) {
  for (const std::string& name : names) AppendString(name, out);
}

void EncodeLeaseOwner(const Metadata& owner, std::string* out) {
  for (const auto& [key, value] : owner) {
    AppendString(key, out);
    AppendString(value, out);
  }
}

absl::StatusOr<std::vector<std::string>> DecodeLeaseNames(
    absl::string_view blob) {
  std::vector<std::string> names;
  StringReader reader(blob);
  while (!reader.done()) {
    absl::string_view name;
    absl::Status status = reader.Next(&name);
    if (!status.ok()) {
      return absl::DataLossError(
          absl::StrCat("names: ", status.message()));
    }
    names.emplace_back(name);
  }
  return names;
}

absl::StatusOr<Metadata> DecodeLeaseOwner(absl::string_view blob) {
  Metadata owner;
  StringReader reader(blob);
  absl::string_view previous_key;
  bool first = true;
  while (!reader.done()) {
    absl::string_view key;
    absl::string_view value;
    absl::Status status = reader.Next(&key);
    if (status.ok() && reader.done()) {
      status = absl::DataLossError(absl::StrCat(
          "odd number of strings (key \"",
          absl::CHexEscape(key.substr(0, 32)), "\" has no value)"));
    }
    if (status.ok()) status = reader.Next(&value);
    if (status.ok() && !first && key <= previous_key) {
      status = absl::DataLossError(absl::StrCat(
          key == previous_key ? "duplicate key \"" : "keys out of order at \"",
          absl::CHexEscape(key.substr(0, 32)), "\""));
    }
    if (!status.ok()) {
      return absl::DataLossError(absl::StrCat("owner: ", status.message()));
    }
    owner.emplace_hint(owner.end(), key, value);
    previous_key = key;
    first = false;
  }
  return owner;
}

}  // namespace portlease
