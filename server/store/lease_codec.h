// The compact binary encoding of a lease's names and owner metadata, as the
// SQLite store keeps them in the `names` and `owner` BLOB columns of its
// `leases` table (schema version 3). Private to the store layer.
//
// Format. A blob is a sequence of strings, each written as
//   varint(length) bytes[length]
// where varint is unsigned LEB128: 7 bits per byte, least significant group
// first, high bit set on every byte but the last. A length is at most
// 2^32 - 1 (at most 5 varint bytes) and uses the fewest bytes possible
// (no trailing 0x80 groups). Strings are arbitrary bytes. An empty sequence
// encodes as the empty blob.
//   names: the names in order, e.g. {"a", ""} -> 01 61 00.
//   owner: key, value, key, value, ... with the keys strictly ascending
//          (bytewise, as in std::map), e.g. {{"k", "v"}} -> 01 6b 01 76.
// The encoding of a given value is unique, and decoding accepts exactly the
// blobs the encoder produces: anything else (a truncated varint, a length
// past the end, an overlong varint, trailing bytes, an odd number of owner
// strings, a repeated or out-of-order owner key) is DATA_LOSS.
//
// Thread-safe: pure functions.
#ifndef PORTLEASE_SERVER_STORE_LEASE_CODEC_H_
#define PORTLEASE_SERVER_STORE_LEASE_CODEC_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/lease.h"

namespace portlease {

// Appends the encoding of `names` to `*out`.
void EncodeLeaseNames(const std::vector<std::string>& names, std::string* out);
// Appends the encoding of `owner` to `*out`.
void EncodeLeaseOwner(const Metadata& owner, std::string* out);

// Decodes a names blob. DATA_LOSS (message says what is wrong and at which
// byte offset) if `blob` is not exactly an encoder's output.
absl::StatusOr<std::vector<std::string>> DecodeLeaseNames(
    absl::string_view blob);
// Decodes an owner blob. DATA_LOSS as for DecodeLeaseNames, and for an odd
// number of strings or keys that are not strictly ascending.
absl::StatusOr<Metadata> DecodeLeaseOwner(absl::string_view blob);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_STORE_LEASE_CODEC_H_
