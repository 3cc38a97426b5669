#include "server/service/list_pages.h"

#include <algorithm>
#include <memory>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/fake_clock.h"
#include "server/core/fake_prober.h"
#include "server/core/lease_manager.h"
#include "server/core/fake_store.h"
#include "server/core/test_callers.h"

namespace portlease {
namespace {

class ListPagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LeaseManagerOptions options;
    options.pool = {{20000, 21999}};
    options.max_leases_per_owner = 0;
    auto m = LeaseManager::Create(options, &clock_, &store_, &prober_);
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
  }
  // Grants `n` leases of two ports, each with `owner_bytes` of metadata.
  void Grant(int n, size_t owner_bytes = 0, uint32_t count = 2) {
    for (int i = 0; i < n; ++i) {
      AcquireParams p;
      p.count = count;
      p.caller = kAlice;
      if (owner_bytes > 0) p.owner["note"] = std::string(owner_bytes, 'x');
      ASSERT_TRUE(manager_->Acquire(p).ok());
    }
  }
  // Every page from the first, `page_size` at a time; the leases' bases.
  std::vector<uint32_t> AllPages(uint32_t page_size, size_t max_bytes,
                                 int* pages) {
    std::vector<uint32_t> bases;
    v1::ListRequest request;
    request.set_page_size(page_size);
    for (*pages = 0; *pages < 1000; ++*pages) {
      v1::ListResponse response;
      EXPECT_TRUE(
          FillListPage(manager_.get(), request, &response, max_bytes).ok());
      for (const v1::Lease& lease : response.leases()) {
        bases.push_back(lease.base_port());
        EXPECT_TRUE(lease.lease_id().empty());  // prefixes only
      }
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
    }
    ++*pages;
    return bases;
  }

  FakeClock clock_;
  MapStore store_;
  FakeProber prober_;
  std::unique_ptr<LeaseManager> manager_;
};

TEST_F(ListPagesTest, PagesHoldEveryLeaseOnceInOrder) {
  Grant(25);
  int pages = 0;
  std::vector<uint32_t> bases = AllPages(10, kMaxListPageBytes, &pages);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(bases.size(), 25u);
  EXPECT_TRUE(std::is_sorted(bases.begin(), bases.end()));
  EXPECT_EQ(std::set<uint32_t>(bases.begin(), bases.end()).size(), 25u);
}

TEST_F(ListPagesTest, DefaultAndMaximumPageSizes) {
  Grant(kMaxListPageSize + 1, 0, /*count=*/1);
  v1::ListResponse first;
  ASSERT_TRUE(FillListPage(manager_.get(), v1::ListRequest(), &first).ok());
  EXPECT_EQ(first.leases_size(), static_cast<int>(kDefaultListPageSize));
  EXPECT_FALSE(first.next_page_token().empty());
  v1::ListRequest huge;
  huge.set_page_size(1u << 30);  // cut to the maximum, not refused
  v1::ListResponse page;
  ASSERT_TRUE(FillListPage(manager_.get(), huge, &page).ok());
  EXPECT_EQ(page.leases_size(), static_cast<int>(kMaxListPageSize));
  EXPECT_FALSE(page.next_page_token().empty());
}

TEST_F(ListPagesTest, APageStopsBeforeTheByteCap) {
  Grant(20, /*owner_bytes=*/1000);
  int pages = 0;
  // About four leases of ~1 KiB per 4.5 KiB page.
  std::vector<uint32_t> bases = AllPages(0, 4500, &pages);
  EXPECT_EQ(bases.size(), 20u);
  EXPECT_GE(pages, 5);
  v1::ListRequest request;
  v1::ListResponse first;
  ASSERT_TRUE(FillListPage(manager_.get(), request, &first, 4500).ok());
  EXPECT_LE(first.ByteSizeLong(), 4500u + 64);
  // One lease bigger than the cap still comes, alone.
  v1::ListResponse tiny;
  ASSERT_TRUE(FillListPage(manager_.get(), request, &tiny, 10).ok());
  EXPECT_EQ(tiny.leases_size(), 1);
  EXPECT_FALSE(tiny.next_page_token().empty());
}

TEST_F(ListPagesTest, ForeignTokensAreInvalid) {
  Grant(1);
  for (const char* token : {"garbage", "from-port-", "from-port-0",
                            "from-port-70000", "from-port-1x", "20000"}) {
    v1::ListRequest request;
    request.set_page_token(token);
    v1::ListResponse response;
    absl::Status status = FillListPage(manager_.get(), request, &response);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << token;
    EXPECT_EQ(response.leases_size(), 0) << token;
  }
  EXPECT_EQ(ParsePageToken(PageToken(20002)), Port{20002});
}

}  // namespace
}  // namespace portlease
