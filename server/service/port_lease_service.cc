#include "server/service/port_lease_service.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/host/socket_table.h"
#include "common/wire/port_holder.h"
#include "server/service/admin_auth.h"
#include "server/service/caller_identity.h"
#include "server/service/convert.h"
#include "server/service/list_pages.h"
#include "server/service/reactors.h"

namespace portlease {
namespace {

// Finishes a unary RPC at once.
grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace

PortLeaseService::PortLeaseService(PortLeaseServiceOptions options)
    : options_([&options] {
        if (!options.holders) {
          options.holders = [](absl::Span<const Port> ports) {
            return FindPortHolders(ports);
          };
        }
        return std::move(options);
      }()) {}

PeerIdentity PortLeaseService::Peer(
    const grpc::CallbackServerContext& context) const {
  return Identify(options_.peers != nullptr ? *options_.peers : no_peers_,
                  context.peer());
}

Principal PortLeaseService::CallerOf(
    const grpc::CallbackServerContext& context) const {
  return PrincipalOf(Peer(context), context.auth_context().get(),
                     context.client_metadata(), options_.admin_token);
}

Principal PortLeaseService::AdminOf(
    const grpc::CallbackServerContext& context) const {
  Principal admin = CallerOf(context);
  admin.privilege = "admin-token";
  return admin;
}

absl::Status PortLeaseService::Admit(const PeerIdentity& caller) {
  if (options_.rate_limiter == nullptr) return absl::OkStatus();
  return options_.rate_limiter->Admit(caller.key);
}

absl::Status PortLeaseService::AdmitAdmin(
    const grpc::CallbackServerContext& context) {
  absl::Status admitted = Admit(Peer(context));
  if (!admitted.ok()) return admitted;
  return CheckBearerToken(context.client_metadata(), options_.admin_token);
}

grpc::ServerUnaryReactor* PortLeaseService::Acquire(
    grpc::CallbackServerContext* context, const v1::AcquireRequest* request,
    v1::AcquireResponse* response) {
  const PeerIdentity caller = Peer(*context);
  absl::Status admitted = Admit(caller);
  if (!admitted.ok()) return FinishNow(context, admitted);
  absl::StatusOr<AcquireParams> params = AcquireParamsFromProto(*request);
  if (!params.ok()) return FinishNow(context, params.status());
  // The peer_ keys are the server's word on who called: never the client's.
  for (const auto& [key, value] : params->owner) {
    if (absl::StartsWith(key, "peer_")) {
      return FinishNow(context,
                       absl::InvalidArgumentError(absl::StrCat(
                           "owner metadata key '", key,
                           "' is reserved: the server records peer_* keys "
                           "(peer_uid, peer_pid, peer_user, peer_addr) itself")));
    }
  }
  for (auto& [key, value] : caller.OwnerEntries()) params->owner[key] = value;
  // A client on the Unix socket may leave its user name to the server.
  if (auto user = params->owner.find("peer_user");
      user != params->owner.end() && !params->owner.contains("user")) {
    params->owner["user"] = user->second;
  }
  // Who asks: the lease's caller, the scope of its request_id, the key of
  // the per-owner limit.
  params->caller = CallerOf(*context);
  const absl::Duration started = options_.clock->Monotonic();
  std::function<void(const absl::Status&)> on_done;
  if (options_.on_acquire_done) {
    on_done = [this, started](const absl::Status& status) {
      options_.on_acquire_done(status, options_.clock->Monotonic() - started);
    };
  }
  if (request->wait()) {
    const absl::Duration deadline =
        options_.clock->Monotonic() +
        RemainingUntil(context->deadline(), options_.max_wait);
    return AcquireWaitReactor::Start(options_.manager, *std::move(params),
                                     deadline, response, std::move(on_done));
  }
  absl::StatusOr<LeaseRecord> lease = options_.manager->Acquire(*params);
  if (lease.ok()) {
    LeaseToProto(*lease, LeaseIdVisibility::kFull, response->mutable_lease());
    DurationToProto(options_.manager->hold_grace(),
                    response->mutable_hold_grace());
    response->set_held(lease->held);
  }
  if (on_done) on_done(lease.status());
  return FinishNow(context, lease.status());
}

grpc::ServerUnaryReactor* PortLeaseService::Renew(
    grpc::CallbackServerContext* context, const v1::RenewRequest* request,
    v1::RenewResponse* response) {
  absl::Status admitted = Admit(Peer(*context));
  if (!admitted.ok()) return FinishNow(context, admitted);
  absl::Status valid = CheckLeaseIdField(request->lease_id());
  if (!valid.ok()) return FinishNow(context, valid);
  absl::Duration ttl = absl::ZeroDuration();
  if (request->has_ttl()) {
    absl::StatusOr<absl::Duration> parsed =
        DurationFromProto(request->ttl(), "ttl");
    if (!parsed.ok()) return FinishNow(context, parsed.status());
    ttl = *parsed;
  }
  const Principal by = CallerOf(*context);
  const uint64_t token = request->fencing_token();
  absl::StatusOr<LeaseRecord> lease =
      options_.manager->Renew(request->lease_id(), ttl, by, token);
  if (absl::IsNotFound(lease.status()) && request->has_reattach()) {
    // Unknown here: a server that lost its state re-creates it from the
    // holder's snapshot during its recovery window.
    absl::StatusOr<LeaseRecord> snapshot = SnapshotFromProto(
        request->reattach(), request->lease_id(), Peer(*context).OwnerEntries());
    absl::StatusOr<LeaseRecord> back =
        snapshot.ok() ? options_.manager->Reattach(*snapshot, by)
                      : snapshot.status();
    lease = back.ok()
                ? options_.manager->Renew(request->lease_id(), ttl, by, token)
                : back;
  }
  if (lease.ok()) {
    LeaseToProto(*lease, LeaseIdVisibility::kFull, response->mutable_lease());
  }
  return FinishNow(context, lease.status());
}

grpc::ServerUnaryReactor* PortLeaseService::Release(
    grpc::CallbackServerContext* context, const v1::ReleaseRequest* request,
    v1::ReleaseResponse* /*response*/) {
  absl::Status admitted = Admit(Peer(*context));
  if (!admitted.ok()) return FinishNow(context, admitted);
  absl::Status valid = CheckLeaseIdField(request->lease_id());
  if (!valid.ok()) return FinishNow(context, valid);
  return FinishNow(context, options_.manager->Release(
                                request->lease_id(), CallerOf(*context),
                                request->fencing_token()));
}

grpc::ServerUnaryReactor* PortLeaseService::Get(
    grpc::CallbackServerContext* context, const v1::GetRequest* request,
    v1::GetResponse* response) {
  absl::Status admitted = Admit(Peer(*context));
  if (!admitted.ok()) return FinishNow(context, admitted);
  absl::Status valid = CheckLeaseIdField(request->lease_id());
  if (!valid.ok()) return FinishNow(context, valid);
  absl::StatusOr<LeaseRecord> lease =
      options_.manager->Get(request->lease_id(), CallerOf(*context));
  if (lease.ok()) {
    LeaseToProto(*lease, LeaseIdVisibility::kFull, response->mutable_lease());
  }
  return FinishNow(context, lease.status());
}

grpc::ServerUnaryReactor* PortLeaseService::List(
    grpc::CallbackServerContext* context, const v1::ListRequest* request,
    v1::ListResponse* response) {
  absl::Status admitted = Admit(Peer(*context));
  if (!admitted.ok()) return FinishNow(context, admitted);
  return FinishNow(context,
                   FillListPage(options_.manager, *request, response));
}

grpc::ServerBidiReactor<v1::HoldRequest, v1::HoldResponse>*
PortLeaseService::Hold(grpc::CallbackServerContext* context) {
  const PeerIdentity peer = Peer(*context);
  return new HoldReactor(options_.manager, Admit(peer), CallerOf(*context),
                         [this, key = peer.key] {
                           return options_.rate_limiter == nullptr
                                      ? absl::OkStatus()
                                      : options_.rate_limiter->Admit(key);
                         },
                         peer.OwnerEntries());
}

grpc::ServerUnaryReactor* PortLeaseService::Who(
    grpc::CallbackServerContext* context, const v1::WhoRequest* request,
    v1::WhoResponse* response) {
  absl::Status admitted = Admit(Peer(*context));
  if (!admitted.ok()) return FinishNow(context, admitted);
  return FinishNow(context, FillWho(*request, response));
}

absl::Status PortLeaseService::FillWho(const v1::WhoRequest& request,
                                       v1::WhoResponse* response) {
  if (static_cast<uint32_t>(request.ports_size()) > options_.max_who_ports) {
    return absl::InvalidArgumentError(
        absl::StrCat("at most ", options_.max_who_ports,
                     " ports per Who request, got ", request.ports_size()));
  }
  std::vector<Port> ports;
  for (uint32_t port : request.ports()) {
    if (port == 0 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("port ", port, " is not in 1..65535"));
    }
    ports.push_back(static_cast<Port>(port));
  }
  // Sockets by port. A failed lookup leaves the holders out: the pool's
  // view is still worth answering with.
  std::map<Port, std::vector<const PortHolder*>> by_port;
  absl::StatusOr<std::vector<PortHolder>> holders = options_.holders(ports);
  if (holders.ok()) {
    for (const PortHolder& holder : *holders) {
      by_port[holder.socket.local_port].push_back(&holder);
    }
  }
  for (Port port : ports) {
    v1::PortInfo* info = response->add_ports();
    info->set_port(port);
    PortView view = options_.manager->ViewPort(port);
    info->set_pool_state(PortStateName(view.state));
    info->set_in_pool(view.state != PortView::State::kOutsidePool &&
                      view.state != PortView::State::kExcluded);
    if (view.lease.has_value()) {
      LeaseToProto(*view.lease, LeaseIdVisibility::kPrefixOnly,
                   info->mutable_lease());
    }
    if (view.claimed_by.has_value()) {
      info->mutable_claimed_by()->set_pid(view.claimed_by->pid);
      info->mutable_claimed_by()->set_user(view.claimed_by->user);
    }
    for (const PortHolder* holder : by_port[port]) {
      if (holder->holders_hidden) info->set_holders_hidden(true);
      for (v1::PortHolder& entry : HolderEntries(*holder)) {
        *info->add_holders() = std::move(entry);
      }
    }
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* PortLeaseService::Status(
    grpc::CallbackServerContext* context, const v1::StatusRequest* /*request*/,
    v1::StatusResponse* response) {
  absl::Status admitted = Admit(Peer(*context));
  if (!admitted.ok()) return FinishNow(context, admitted);
  const PoolStats stats = options_.manager->Stats();
  response->set_pool_size(stats.pool_size);
  response->set_free(stats.free);
  response->set_leased(stats.leased);
  response->set_quarantined(stats.quarantined);
  response->set_draining(stats.draining);
  response->set_busy(stats.busy);
  response->set_largest_free_block(stats.largest_free_block);
  response->set_live_leases(stats.live_leases);
  response->set_waiters(stats.waiters);
  response->set_version(options_.version);
  response->set_disabled(stats.disabled);
  response->set_claims_enabled(options_.claims.enabled);
  response->set_claims_dir(options_.claims.dir);
  response->set_claims_off_reason(options_.claims.off_reason);
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* PortLeaseService::Events(
    grpc::CallbackServerContext* context, const v1::EventsRequest* request,
    v1::EventsResponse* response) {
  absl::Status admitted = Admit(Peer(*context));
  if (!admitted.ok()) return FinishNow(context, admitted);
  constexpr uint32_t kDefaultLimit = 1000;
  constexpr uint32_t kMaxLimit = 10000;
  if (request->limit() > kMaxLimit) {
    return FinishNow(context, absl::InvalidArgumentError(absl::StrCat(
                                  "at most ", kMaxLimit,
                                  " events per Events request, asked for ",
                                  request->limit())));
  }
  EventQuery query;
  query.after_seq = request->after_seq();
  if (request->has_since()) query.since = TimeFromProto(request->since());
  query.limit = request->limit() == 0 ? kDefaultLimit : request->limit();
  absl::StatusOr<std::vector<AuditEvent>> events =
      options_.manager->Events(query);
  if (!events.ok()) {
    if (absl::IsUnimplemented(events.status())) {
      return FinishNow(context,
                       absl::UnimplementedError(
                           "this server keeps no audit trail (started with "
                           "--audit-events=0); its log has the events"));
    }
    return FinishNow(context, events.status());
  }
  response->set_next_after_seq(query.after_seq);
  for (const AuditEvent& event : *events) {
    EventToProto(event, response->add_events());
    response->set_next_after_seq(event.seq);
  }
  response->set_more(events->size() == query.limit);
  return FinishNow(context, absl::OkStatus());
}

namespace {
absl::StatusOr<Port> PortField(uint32_t port) {
  if (port == 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("port ", port, " is not in 1..65535"));
  }
  return static_cast<Port>(port);
}
}  // namespace

grpc::ServerUnaryReactor* PortLeaseService::ForceRelease(
    grpc::CallbackServerContext* context,
    const v1::ForceReleaseRequest* request,
    v1::ForceReleaseResponse* response) {
  absl::Status admitted = AdmitAdmin(*context);
  if (!admitted.ok()) return FinishNow(context, admitted);
  absl::StatusOr<LeaseRecord> ended = absl::InvalidArgumentError(
      "ForceRelease needs a lease_id_prefix or a port");
  if (request->has_lease_id_prefix()) {
    if (request->lease_id_prefix().size() > 64) {
      return FinishNow(context, absl::InvalidArgumentError(
                                    "lease_id_prefix is too long"));
    }
    ended = options_.manager->ForceRelease(request->lease_id_prefix(), 0,
                                           AdminOf(*context));
  } else if (request->has_port()) {
    absl::StatusOr<Port> port = PortField(request->port());
    if (!port.ok()) return FinishNow(context, port.status());
    ended = options_.manager->ForceRelease("", *port, AdminOf(*context));
  }
  if (ended.ok()) {
    LeaseToProto(*ended, LeaseIdVisibility::kPrefixOnly,
                 response->mutable_lease());
  }
  return FinishNow(context, ended.status());
}

grpc::ServerUnaryReactor* PortLeaseService::DrainPort(
    grpc::CallbackServerContext* context, const v1::DrainPortRequest* request,
    v1::DrainPortResponse* /*response*/) {
  absl::Status admitted = AdmitAdmin(*context);
  if (!admitted.ok()) return FinishNow(context, admitted);
  absl::StatusOr<Port> port = PortField(request->port());
  if (!port.ok()) return FinishNow(context, port.status());
  return FinishNow(context,
                   options_.manager->DrainPort(*port, AdminOf(*context)));
}

grpc::ServerUnaryReactor* PortLeaseService::UndrainPort(
    grpc::CallbackServerContext* context,
    const v1::UndrainPortRequest* request,
    v1::UndrainPortResponse* /*response*/) {
  absl::Status admitted = AdmitAdmin(*context);
  if (!admitted.ok()) return FinishNow(context, admitted);
  absl::StatusOr<Port> port = PortField(request->port());
  if (!port.ok()) return FinishNow(context, port.status());
  return FinishNow(context,
                   options_.manager->UndrainPort(*port, AdminOf(*context)));
}

grpc::ServerUnaryReactor* PortLeaseService::SetPool(
    grpc::CallbackServerContext* context, const v1::SetPoolRequest* request,
    v1::SetPoolResponse* response) {
  absl::Status admitted = AdmitAdmin(*context);
  if (!admitted.ok()) return FinishNow(context, admitted);
  constexpr size_t kMaxSpecBytes = 4096;
  if (request->pool().size() > kMaxSpecBytes ||
      request->exclude().size() > kMaxSpecBytes) {
    return FinishNow(context, absl::InvalidArgumentError(absl::StrCat(
                                  "pool and exclude are at most ",
                                  kMaxSpecBytes, " bytes each")));
  }
  absl::StatusOr<std::vector<PortRange>> pool =
      ParsePortRanges(request->pool());
  if (!pool.ok()) {
    return FinishNow(context,
                     absl::InvalidArgumentError(absl::StrCat(
                         "pool: ", pool.status().message())));
  }
  absl::StatusOr<std::vector<Port>> exclude =
      ParsePortList(request->exclude());
  if (!exclude.ok()) {
    return FinishNow(context,
                     absl::InvalidArgumentError(absl::StrCat(
                         "exclude: ", exclude.status().message())));
  }
  // Checked and fitted as at start (LeaseManagerOptions::pool_fit).
  absl::StatusOr<PoolChange> change =
      options_.manager->SetPool(*std::move(pool), *std::move(exclude),
                                AdminOf(*context));
  if (change.ok()) {
    if (options_.on_pool_changed) options_.on_pool_changed(*change);
    response->set_pool(FormatPortRanges(change->pool));
    response->set_exclude(FormatPortList(change->exclude));
    response->set_pool_size(change->pool_size);
    response->set_leases_outside_pool(change->leases_outside_pool);
    response->set_persisted(false);
  }
  return FinishNow(context, change.status());
}

}  // namespace portlease
