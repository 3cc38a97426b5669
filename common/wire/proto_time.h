// absl::Duration and absl::Time <-> google.protobuf.Duration and Timestamp:
// the one conversion for the server and the clients. Header-only (inline),
// so that the installed client library needs no library of its own for it.
//
// Example:
//   google::protobuf::Duration ttl;
//   DurationToProto(absl::Seconds(90), &ttl);
//   absl::StatusOr<absl::Duration> back = DurationFromProto(ttl, "ttl");
#ifndef PORTLEASE_COMMON_WIRE_PROTO_TIME_H_
#define PORTLEASE_COMMON_WIRE_PROTO_TIME_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace portlease {

// The duration as sent, unchecked: for a peer's answer that the caller
// trusts (the server's). Unset gives zero.
inline absl::Duration DurationOf(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

// A request's duration, checked: INVALID_ARGUMENT naming `field` when the
// nanos are out of range or their sign disagrees with the seconds'. Unset
// gives zero.
inline absl::StatusOr<absl::Duration> DurationFromProto(
    const google::protobuf::Duration& d, absl::string_view field) {
  const int64_t seconds = d.seconds();
  const int32_t nanos = d.nanos();
  if (nanos <= -1'000'000'000 || nanos >= 1'000'000'000 ||
      (seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": malformed duration (seconds ", seconds,
                     ", nanos ", nanos, ")"));
  }
  return DurationOf(d);
}

// Infinite durations are left unset.
inline void DurationToProto(absl::Duration d, google::protobuf::Duration* out) {
  out->Clear();
  if (d == absl::InfiniteDuration() || d == -absl::InfiniteDuration()) return;
  const int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d)));
}

// Infinite times are left unset.
inline void TimeToProto(absl::Time t, google::protobuf::Timestamp* out) {
  out->Clear();
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return;
  const int64_t seconds = absl::ToUnixSeconds(t);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
}

// Unset gives the Unix epoch.
inline absl::Time TimeFromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

}  // namespace portlease

#endif  // PORTLEASE_COMMON_WIRE_PROTO_TIME_H_
