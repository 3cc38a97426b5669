// Cancellation for the programs: SIGINT, SIGTERM and SIGHUP while lease-run
// or `portlease acquire` waits for a server or for ports.
#ifndef PORTLEASE_CLIENT_CLI_COMMON_SIGNAL_WATCH_H_
#define PORTLEASE_CLIENT_CLI_COMMON_SIGNAL_WATCH_H_

#include <atomic>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace portlease {

// Watches SIGINT, SIGTERM and SIGHUP on a thread of its own, from the
// constructor until Stop(). The signals must be blocked in every thread
// (BlockCancelSignals or BlockSupervisorSignals, before any thread starts). Until a handler is
// set, a signal ends the process as the signal would (the shell sees
// 128+N); once OnSignal() set one, the first signal is recorded and the
// handler runs on the watching thread (later ones are recorded only).
// After Stop() signals stay pending: SuperviseChild forwards them to the
// child.
// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and the threads it
// starts later: call it before any thread starts.
void BlockCancelSignals();

class SignalWatch {
 public:
  SignalWatch();
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

  void OnSignal(std::function<void()> handler);
  // The first signal received since OnSignal(), or 0.
  int signal() const { return signal_.load(); }
  void Stop();

 private:
  void Loop();
  // The next signal, or 0 when woken for Stop() (or by a timeout).
  int Next();

  absl::Mutex mu_;
  std::function<void()> handler_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> stop_{false};
  std::atomic<int> signal_{0};
  // signalfd of the watched signals and the eventfd Stop() writes; -1 when
  // they could not be made.
  int signal_fd_ = -1;
  int stop_fd_ = -1;
  std::thread thread_;
};

// "SIGINT", "SIGTERM", "SIGHUP", else "signal N".
const char* SignalName(int sig);

}  // namespace portlease

#endif  // PORTLEASE_CLIENT_CLI_COMMON_SIGNAL_WATCH_H_
