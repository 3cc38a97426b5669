// Ticker: calls a function periodically on its own thread, e.g. the lease
// manager's housekeeping (LeaseBackend::Tick) every 100 ms.
//
//   Ticker ticker(absl::Milliseconds(100), [&manager] { manager.Tick(); });
//   ...  // destroying the ticker stops it within one call of `fn`
//
// Thread-safe. `fn` runs only on the ticker's thread, never concurrently
// with itself, and never after the destructor returns.
#ifndef PORTLEASE_SERVER_SERVICE_TICKER_H_
#define PORTLEASE_SERVER_SERVICE_TICKER_H_

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace portlease {

class Ticker {
 public:
  // Starts the thread; the first call comes one `interval` from now.
  Ticker(absl::Duration interval, absl::AnyInvocable<void()> fn);
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;
  // Stops the thread: waits for a running call of `fn`, not for an interval.
  ~Ticker();

 private:
  void Run();

  const absl::Duration interval_;
  absl::AnyInvocable<void()> fn_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace portlease

#endif  // PORTLEASE_SERVER_SERVICE_TICKER_H_
