// Abseil's lock-order graph, on in Debian's Abseil (built without NDEBUG):
// every absl::Mutex lock and unlock, gRPC's included, also takes a global
// lock and updates a graph to report lock-order inversions. Release builds
// of the programs turn it off first thing in main(); debug builds and the
// tests keep it.
//
//   int main(int argc, char** argv) {
//     portlease::SkipLockGraphInReleaseBuilds();
//     ...
#ifndef PORTLEASE_COMMON_SYSTEM_LOCK_GRAPH_H_
#define PORTLEASE_COMMON_SYSTEM_LOCK_GRAPH_H_

namespace portlease {

// Call before any thread starts. A no-op in a build without NDEBUG.
void SkipLockGraphInReleaseBuilds();

}  // namespace portlease

#endif  // PORTLEASE_COMMON_SYSTEM_LOCK_GRAPH_H_
