// glibc's malloc gives every thread that allocates its own arena (up to
// eight per core): each new arena maps 64 MB of address space, trims and
// protects it (mmap, munmap, mprotect; in a multi-threaded process the last
// two flush the other threads' TLBs) and faults in fresh pages. A program
// that lives for one job, whose threads (gRPC's and its own) mostly wait,
// gains nothing from that and pays it at every start; the per-job client
// programs (lease-run, portlease) keep one arena for all their threads.
// portleased keeps glibc's default: its threads allocate concurrently.
//
//   int main(int argc, char** argv) {
//     portlease::UseOneMallocArena();
//     ...
#ifndef PORTLEASE_COMMON_SYSTEM_MALLOC_ARENA_H_
#define PORTLEASE_COMMON_SYSTEM_MALLOC_ARENA_H_

namespace portlease {

// Call before the second thread starts. Without glibc's malloc (a sanitizer
// build), whatever allocator is in use stays as it is.
void UseOneMallocArena();

}  // namespace portlease

#endif  // PORTLEASE_COMMON_SYSTEM_MALLOC_ARENA_H_
