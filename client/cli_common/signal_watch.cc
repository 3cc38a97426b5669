#include "cli_common/signal_watch.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <utility>

namespace portlease {
namespace {

sigset_t CancelSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
  return set;
}

// Ends the process with `sig`'s default action, from this thread.
[[noreturn]] void DieBy(int sig) {
  signal(sig, SIG_DFL);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  kill(getpid(), sig);
  pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  // Not reached: the signal was delivered to this thread.
  _exit(128 + sig);
}

}  // namespace

void BlockCancelSignals() {
  const sigset_t set = CancelSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

SignalWatch::SignalWatch() : thread_([this] { Loop(); }) {}

SignalWatch::~SignalWatch() { Stop(); }

void SignalWatch::OnSignal(std::function<void()> handler) {
  absl::MutexLock lock(&mu_);
  handler_ = std::move(handler);
}

void SignalWatch::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void SignalWatch::Loop() {
  const sigset_t set = CancelSignals();
  while (!stop_.load()) {
    struct timespec step = {0, 50 * 1000 * 1000};
    const int sig = sigtimedwait(&set, nullptr, &step);
    if (sig <= 0) continue;
    std::function<void()> handler;
    {
      absl::MutexLock lock(&mu_);
      if (!handler_) DieBy(sig);
      int none = 0;
      if (!signal_.compare_exchange_strong(none, sig)) continue;
      handler = handler_;
    }
    handler();
  }
}

const char* SignalName(int sig) {
  switch (sig) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
  }
  return "a signal";
}

}  // namespace portlease
