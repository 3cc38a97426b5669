#include "server/service/list_pages.h"

#include <algorithm>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/service/convert.h"

namespace portlease {
namespace {

constexpr absl::string_view kTokenPrefix = "from-port-";

}  // namespace

std::string PageToken(Port from) { return absl::StrCat(kTokenPrefix, from); }

std::optional<Port> ParsePageToken(absl::string_view token) {
  uint32_t port = 0;
  if (!absl::ConsumePrefix(&token, kTokenPrefix) || token.empty() ||
      token.size() > 5 || !absl::c_all_of(token, absl::ascii_isdigit) ||
      !absl::SimpleAtoi(token, &port) || port == 0 || port > 65535) {
    return std::nullopt;
  }
  return static_cast<Port>(port);
}

absl::Status FillListPage(LeaseBackend* manager, const v1::ListRequest& request,
                          v1::ListResponse* response, size_t max_bytes) {
  Port from = 0;
  if (!request.page_token().empty()) {
    std::optional<Port> parsed = ParsePageToken(request.page_token());
    if (!parsed.has_value()) {
      return absl::InvalidArgumentError(
          "page_token is not one this server gave out; pass the "
          "next_page_token of the previous List reply, or none for the "
          "first page");
    }
    from = *parsed;
  }
  const uint32_t page_size =
      request.page_size() == 0
          ? kDefaultListPageSize
          : std::min(request.page_size(), kMaxListPageSize);
  const Metadata filter(request.owner_filter().begin(),
                        request.owner_filter().end());
  // One more than the page: whether another page follows.
  std::vector<LeaseRecord> leases =
      manager->List(filter, from, size_t{page_size} + 1);
  size_t bytes = 0;
  for (size_t i = 0; i < leases.size(); ++i) {
    if (i == page_size) {
      response->set_next_page_token(PageToken(leases[i].base));
      break;
    }
    v1::Lease lease;
    LeaseToProto(leases[i], LeaseIdVisibility::kPrefixOnly, &lease);
    const size_t size = lease.ByteSizeLong() + 8;  // tag and length
    if (i > 0 && bytes + size > max_bytes) {
      response->set_next_page_token(PageToken(leases[i].base));
      break;
    }
    bytes += size;
    *response->add_leases() = std::move(lease);
  }
  return absl::OkStatus();
}

}  // namespace portlease
