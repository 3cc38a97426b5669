#include "common/system/malloc_arena.h"

#include <malloc.h>
#include <stdio.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace portlease {
namespace {

// The heaps (arenas) malloc_info reports, or -1 when it reports none (an
// allocator other than glibc's, as in a sanitizer build).
int CountArenas() {
  char* text = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&text, &size);
  if (out == nullptr) return -1;
  malloc_info(0, out);
  fclose(out);
  const std::string info(text, size);
  std::free(text);
  int heaps = 0;
  for (size_t at = info.find("<heap nr="); at != std::string::npos;
       at = info.find("<heap nr=", at + 1)) {
    ++heaps;
  }
  return heaps == 0 ? -1 : heaps;
}

// Each test runs in a process of its own (ctest): no thread has allocated
// before this one calls UseOneMallocArena.
TEST(MallocArenaTest, ThreadsShareTheMainArena) {
  UseOneMallocArena();
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([] {
      std::vector<void*> blocks;
      for (int j = 0; j < 64; ++j) blocks.push_back(std::malloc(1024));
      for (void* block : blocks) std::free(block);
    });
  }
  for (std::thread& thread : threads) thread.join();
  const int arenas = CountArenas();
  if (arenas < 0) GTEST_SKIP() << "not glibc's malloc";
  EXPECT_EQ(arenas, 1);
}

}  // namespace
}  // namespace portlease
