#include "server/service/port_lease_service.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/probe/socket_table.h"
#include "server/service/convert.h"
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

void HolderToProto(const PortHolder& holder, const HolderProcess* process,
                   v1::PortHolder* out) {
  if (process != nullptr) {
    out->set_pid(static_cast<int32_t>(process->pid));
    out->set_command(process->command);
  }
  out->set_user(holder.user);
  out->set_protocol(std::string(ProtocolName(holder.socket.protocol)));
  out->set_family(std::string(FamilyName(holder.socket.family)));
  out->set_state(holder.socket.state);
  out->set_local_address(holder.socket.local_address);
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

grpc::ServerUnaryReactor* PortLeaseService::Acquire(
    grpc::CallbackServerContext* context, const v1::AcquireRequest* request,
    v1::AcquireResponse* response) {
  absl::StatusOr<AcquireParams> params = AcquireParamsFromProto(*request);
  if (!params.ok()) return FinishNow(context, params.status());
  if (request->wait()) {
    const absl::Duration deadline =
        options_.clock->Monotonic() +
        RemainingUntil(context->deadline(), options_.max_wait);
    return AcquireWaitReactor::Start(options_.manager, *std::move(params),
                                     deadline, response);
  }
  absl::StatusOr<LeaseRecord> lease = options_.manager->Acquire(*params);
  if (lease.ok()) {
    LeaseToProto(*lease, LeaseIdVisibility::kFull, response->mutable_lease());
  }
  return FinishNow(context, lease.status());
}

grpc::ServerUnaryReactor* PortLeaseService::Renew(
    grpc::CallbackServerContext* context, const v1::RenewRequest* request,
    v1::RenewResponse* response) {
  absl::Status valid = CheckLeaseIdField(request->lease_id());
  if (!valid.ok()) return FinishNow(context, valid);
  absl::Duration ttl = absl::ZeroDuration();
  if (request->has_ttl()) {
    absl::StatusOr<absl::Duration> parsed =
        DurationFromProto(request->ttl(), "ttl");
    if (!parsed.ok()) return FinishNow(context, parsed.status());
    ttl = *parsed;
  }
  absl::StatusOr<LeaseRecord> lease =
      options_.manager->Renew(request->lease_id(), ttl);
  if (lease.ok()) {
    LeaseToProto(*lease, LeaseIdVisibility::kFull, response->mutable_lease());
  }
  return FinishNow(context, lease.status());
}

grpc::ServerUnaryReactor* PortLeaseService::Release(
    grpc::CallbackServerContext* context, const v1::ReleaseRequest* request,
    v1::ReleaseResponse* /*response*/) {
  absl::Status valid = CheckLeaseIdField(request->lease_id());
  if (!valid.ok()) return FinishNow(context, valid);
  return FinishNow(context, options_.manager->Release(request->lease_id()));
}

grpc::ServerUnaryReactor* PortLeaseService::Get(
    grpc::CallbackServerContext* context, const v1::GetRequest* request,
    v1::GetResponse* response) {
  absl::Status valid = CheckLeaseIdField(request->lease_id());
  if (!valid.ok()) return FinishNow(context, valid);
  absl::StatusOr<LeaseRecord> lease =
      options_.manager->Get(request->lease_id());
  if (lease.ok()) {
    LeaseToProto(*lease, LeaseIdVisibility::kFull, response->mutable_lease());
  }
  return FinishNow(context, lease.status());
}

grpc::ServerUnaryReactor* PortLeaseService::List(
    grpc::CallbackServerContext* context, const v1::ListRequest* request,
    v1::ListResponse* response) {
  Metadata filter(request->owner_filter().begin(),
                  request->owner_filter().end());
  for (const LeaseRecord& lease : options_.manager->List(filter)) {
    LeaseToProto(lease, LeaseIdVisibility::kPrefixOnly, response->add_leases());
  }
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerBidiReactor<v1::HoldRequest, v1::HoldResponse>*
PortLeaseService::Hold(grpc::CallbackServerContext* /*context*/) {
  return new HoldReactor(options_.manager);
}

grpc::ServerUnaryReactor* PortLeaseService::Who(
    grpc::CallbackServerContext* context, const v1::WhoRequest* request,
    v1::WhoResponse* response) {
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
    for (const PortHolder* holder : by_port[port]) {
      if (holder->holders_hidden) info->set_holders_hidden(true);
      if (holder->processes.empty()) {
        HolderToProto(*holder, nullptr, info->add_holders());
      }
      for (const HolderProcess& process : holder->processes) {
        HolderToProto(*holder, &process, info->add_holders());
      }
    }
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* PortLeaseService::Status(
    grpc::CallbackServerContext* context, const v1::StatusRequest* /*request*/,
    v1::StatusResponse* response) {
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
  return FinishNow(context, absl::OkStatus());
}

}  // namespace portlease
