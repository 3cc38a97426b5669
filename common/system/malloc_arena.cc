#include "common/system/malloc_arena.h"

#include <malloc.h>

namespace portlease {

void UseOneMallocArena() {
#if defined(M_ARENA_MAX)
  // Fails only for an unknown option; then the default stays, which is
  // correct, only slower to start.
  (void)mallopt(M_ARENA_MAX, 1);
#endif
}

}  // namespace portlease
