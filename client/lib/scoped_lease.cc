#include "portlease/scoped_lease.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/wire/proto_time.h"

namespace portlease {
namespace {

constexpr absl::Duration kMinRenewInterval = absl::Milliseconds(100);
constexpr absl::Duration kMaxRenewTimeout = absl::Seconds(5);
// A renewal that failed (server or its store unreachable) is retried
// after this, doubling up to kRenewRetryMax (never later than the next
// regular renewal): a lease outlives an outage that ends before its TTL.
constexpr absl::Duration kRenewRetryMin = absl::Milliseconds(250);
constexpr absl::Duration kRenewRetryMax = absl::Seconds(2);
// A Hold stream is reopened after this long, so it has a deadline too.
constexpr absl::Duration kHoldStreamLifetime = absl::Hours(1);
// Reopening a broken Hold stream: at once, then with this backoff.
constexpr absl::Duration kHoldRetryMin = absl::Milliseconds(50);
constexpr absl::Duration kHoldRetryMax = absl::Milliseconds(500);
// Between attempts, Stop() is noticed within this long.
constexpr absl::Duration kHoldWaitStep = absl::Milliseconds(50);
// How long Acquire waits for the first Hold answer.
constexpr absl::Duration kFirstHoldWait = absl::Seconds(1);


}  // namespace

absl::StatusOr<std::unique_ptr<ScopedLease>> ScopedLease::Acquire(
    std::shared_ptr<const Client> client, ScopedLeaseOptions options) {
  options.spec.hold = true;  // HoldLoop opens the stream at once
  absl::StatusOr<v1::AcquireResponse> granted =
      client->AcquireGrant(options.spec);
  if (!granted.ok()) return granted.status();
  // Stored held: the server reclaims it should the stream never attach, so
  // the caller may rely on it now, without a round trip for the first Hold
  // answer (the stream opens in the background).
  const bool stored_held = granted->held();
  // The server's grace, not the default: the server keeps an unheld lease
  // that long, and so does this client when the server goes away.
  if (granted->has_hold_grace()) {
    options.hold_grace = DurationOf(granted->hold_grace());
  }
  std::unique_ptr<ScopedLease> scoped(new ScopedLease(
      std::move(client), std::move(options),
      std::move(*granted->mutable_lease())));
  if (!stored_held) {
    absl::MutexLock lock(&scoped->mu_);
    auto held = [s = scoped.get()]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
      return s->held_once_ || !s->status_.ok() || s->stopped_;
    };
    scoped->mu_.AwaitWithTimeout(absl::Condition(&held), kFirstHoldWait);
  }
  return scoped;
}

ScopedLease::ScopedLease(std::shared_ptr<const Client> client,
                         ScopedLeaseOptions options, v1::Lease lease)
    : client_(std::move(client)),
      options_(std::move(options)),
      lease_(std::move(lease)),
      renew_interval_(std::max(
          kMinRenewInterval, options_.renew_interval > absl::ZeroDuration()
                                 ? options_.renew_interval
                                 : DurationOf(lease_.ttl()) / 3)),
      hold_grace_(options_.hold_grace) {
  renew_thread_ = std::thread([this] { RenewLoop(); });
  hold_thread_ = std::thread([this] { HoldLoop(); });
}

ScopedLease::~ScopedLease() { Stop(/*release=*/true).IgnoreError(); }

std::optional<uint16_t> ScopedLease::Port(absl::string_view name) const {
  for (const v1::PortAssignment& port : lease_.ports()) {
    if (port.name() == name) return static_cast<uint16_t>(port.port());
  }
  return std::nullopt;
}

std::vector<uint16_t> ScopedLease::Ports() const {
  std::vector<uint16_t> ports;
  for (const v1::PortAssignment& port : lease_.ports()) {
    ports.push_back(static_cast<uint16_t>(port.port()));
  }
  return ports;
}

absl::StatusOr<Variables> ScopedLease::Environment(
    const v1::Profile* profile, const VariableLookup& environment,
    absl::string_view checkout_dir) const {
  return LeaseVariables(lease_, profile, environment, checkout_dir);
}

absl::Status ScopedLease::status() const {
  absl::MutexLock lock(&mu_);
  if (status_.ok() && !unreachable_.ok()) return unreachable_;
  return status_;
}

absl::Status ScopedLease::Release() { return Stop(/*release=*/true); }

void ScopedLease::MarkLost(const absl::Status& status) {
  absl::Status lost;
  {
    absl::MutexLock lock(&mu_);
    if (!status_.ok() || stopping_) return;
    status_ = absl::NotFoundError(absl::StrCat(
        "lease ", lease_.lease_id_prefix(), " lost: ", status.message()));
    lost = status_;
  }
  if (options_.on_lost) options_.on_lost(lost);
}

void ScopedLease::CheckUnreachable(absl::Time since,
                                   const absl::Status& last) {
  if (absl::Now() - since < hold_grace_) return;
  absl::Status lost;
  {
    absl::MutexLock lock(&mu_);
    if (!status_.ok() || stopping_ || !unreachable_.ok()) return;
    unreachable_ = absl::UnavailableError(absl::StrCat(
        "lease ", lease_.lease_id_prefix(), " lost: portleased at ",
        absl::StrJoin(client_->addresses(), ","), " unreachable for ",
        absl::FormatDuration(hold_grace_), " (", last.message(), ")"));
    lost = unreachable_;
  }
  if (options_.on_lost) options_.on_lost(lost);
}

void ScopedLease::MarkHeld() {
  {
    absl::MutexLock lock(&mu_);
    held_once_ = true;
    if (unreachable_.ok() || !status_.ok() || stopping_) return;
    unreachable_ = absl::OkStatus();
  }
  if (options_.on_restored) options_.on_restored();
}

void ScopedLease::RenewLoop() {
  absl::Duration wait = renew_interval_;
  absl::Duration retry = kRenewRetryMin;
  while (true) {
    const absl::Duration timeout = std::min(renew_interval_, kMaxRenewTimeout);
    {
      absl::MutexLock lock(&mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !status_.ok();
      };
      mu_.AwaitWithTimeout(absl::Condition(&stop), wait);
      if (stop()) return;
    }
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      renew_context_ = &context;
    }
    v1::RenewRequest request;
    request.set_lease_id(lease_.lease_id());
    // Replicated servers: never renew the lease if it was granted again.
    request.set_fencing_token(lease_.fencing_token());
    // Should the server have lost its state, it re-creates the lease from
    // this snapshot during its recovery window.
    *request.mutable_reattach() = lease_;
    v1::RenewResponse response;
    const absl::Status status =
        FromGrpcStatus(client_->stub().Renew(&context, request, &response));
    {
      absl::MutexLock lock(&mu_);
      renew_context_ = nullptr;
    }
    // Gone, or not ours to keep (another caller's, per the server): lost.
    if (status.code() == absl::StatusCode::kNotFound ||
        status.code() == absl::StatusCode::kPermissionDenied) {
      MarkLost(status);
    }
    if (status.ok() && options_.renew_interval <= absl::ZeroDuration() &&
        response.has_lease() && response.lease().has_ttl()) {
      renew_interval_ =
          std::max(kMinRenewInterval, DurationOf(response.lease().ttl()) / 3);
    }
    if (status.ok()) {
      wait = renew_interval_;
      retry = kRenewRetryMin;
    } else {
      wait = std::min(renew_interval_, retry);
      retry = std::min(retry * 2, kRenewRetryMax);
    }
  }
}

absl::Status ScopedLease::HoldOnce(bool* attached) {
  // Where this stream goes: a connection error there moves on to the
  // client's next address (a replica, or a server back elsewhere).
  const std::string at = client_->address();
  const bool several = client_->addresses().size() > 1;
  if (several) {
    // Opened only once connected: a stream on a channel still connecting
    // fails at once, and waiting is what moves the connection on.
    absl::Status ready = client_->AwaitCurrent();
    if (!ready.ok()) {
      client_->FailOver(at);
      return absl::UnavailableError(absl::StrCat(at, ": ", ready.message()));
    }
  }
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kHoldStreamLifetime));
  {
    absl::MutexLock lock(&mu_);
    if (stopped_ || !status_.ok()) return absl::CancelledError("stopping");
    hold_context_ = &context;
  }
  auto stream = client_->stub().Hold(&context);
  v1::HoldRequest request;
  request.set_lease_id(lease_.lease_id());
  *request.mutable_reattach() = lease_;  // as for Renew
  if (stream->Write(request)) {
    v1::HoldResponse response;
    while (stream->Read(&response)) {
      if (response.has_hold_grace()) {
        hold_grace_ = DurationOf(response.hold_grace());
      }
      if (!*attached) {
        // The server answered: the lease is held there.
        *attached = true;
        MarkHeld();
      }
    }
  }
  stream->WritesDone();
  const absl::Status status = FromGrpcStatus(stream->Finish());
  {
    absl::MutexLock lock(&mu_);
    hold_context_ = nullptr;
  }
  // A broken connection (also one whose pings went unanswered: a stopped
  // server) moves on at once, attached or not: the hold grace is short.
  // A stream that outlived kHoldStreamLifetime reopens where it was.
  if (several && (status.code() == absl::StatusCode::kUnavailable ||
                  (!*attached &&
                   status.code() == absl::StatusCode::kDeadlineExceeded))) {
    client_->FailOver(at);
  }
  return status;
}

void ScopedLease::HoldLoop() {
  // When the last stream broke (or the first failed to open).
  absl::Time broken_since = absl::Now();
  absl::Duration delay = kHoldRetryMin;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopped_ || !status_.ok()) return;
    }
    bool attached = false;
    const absl::Status status = HoldOnce(&attached);
    if (status.code() == absl::StatusCode::kNotFound ||
        status.code() == absl::StatusCode::kPermissionDenied) {
      MarkLost(status);
    }
    if (attached) {
      broken_since = absl::Now();
      delay = kHoldRetryMin;
      // Reopen at once: a stream that merely broke is attached again well
      // within the hold grace.
      continue;
    }
    CheckUnreachable(broken_since, status);
    // Until the next attempt, wait on the channel rather than sleep: that
    // is what carries a reconnection through (a server restarted on the
    // same socket is attached again as soon as it answers), in short steps
    // so that Stop() is noticed.
    const absl::Time retry_at = absl::Now() + delay;
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        if (stopped_ || !status_.ok()) return;
      }
      const absl::Time now = absl::Now();
      if (now >= retry_at) break;
      if (client_->Reconnect(std::min(retry_at, now + kHoldWaitStep))) break;
    }
    delay = std::min(delay * 2, kHoldRetryMax);
  }
}

absl::Status ScopedLease::Stop(bool release) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      return absl::FailedPreconditionError("lease already released");
    }
    stopping_ = true;
    if (renew_context_ != nullptr) renew_context_->TryCancel();
  }
  renew_thread_.join();
  absl::Status result;
  bool lost;
  {
    absl::MutexLock lock(&mu_);
    // Unreachable for the hold grace: a Release would wait for the connect
    // deadline in vain, and a running server reclaims the lease anyway.
    lost = !status_.ok() || !unreachable_.ok();
    result = status_.ok() ? unreachable_ : status_;
  }
  if (release && !lost) {
    result = client_->Release(lease_.lease_id(), options_.release_timeout,
                              lease_.fencing_token());
  }
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    if (hold_context_ != nullptr) hold_context_->TryCancel();
    if (status_.ok()) {
      status_ = absl::FailedPreconditionError(
          absl::StrCat("lease ", lease_.lease_id_prefix(), " released"));
    }
  }
  hold_thread_.join();
  return result;
}

}  // namespace portlease
