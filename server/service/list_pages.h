// List in pages: a reply holds at most a page of leases and at most
// kMaxListPageBytes, so no listing outgrows a client's message limit,
// however many leases and however much owner metadata there is. The page
// token is the base port the next page starts at, so a lease is never shown
// twice across pages (leases are listed by base port, which no two share).
//
//   v1::ListResponse response;
//   absl::Status ok = FillListPage(manager, request, &response);
#ifndef PORTLEASE_SERVER_SERVICE_LIST_PAGES_H_
#define PORTLEASE_SERVER_SERVICE_LIST_PAGES_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "portlease/v1/portlease.pb.h"
#include "server/core/lease_backend.h"

namespace portlease {

// A page_size of 0 asks for this many leases.
inline constexpr uint32_t kDefaultListPageSize = 500;
// A larger page_size is cut to this.
inline constexpr uint32_t kMaxListPageSize = 1000;
// A page stops before its leases pass this many bytes (one lease always
// fits: owner metadata is bounded far below it).
inline constexpr size_t kMaxListPageBytes = 1 << 20;

// The token for a page starting at base port `from`, and back. ParsePageToken
// returns nullopt for a token it did not make.
std::string PageToken(Port from);
std::optional<Port> ParsePageToken(absl::string_view token);

// Fills `response` with the page `request` asks for (ids as prefixes only),
// with next_page_token set when more leases follow. INVALID_ARGUMENT for a
// page_token this server did not make; `response` is then empty.
absl::Status FillListPage(LeaseBackend* manager, const v1::ListRequest& request,
                          v1::ListResponse* response,
                          size_t max_bytes = kMaxListPageBytes);

}  // namespace portlease

#endif  // PORTLEASE_SERVER_SERVICE_LIST_PAGES_H_
