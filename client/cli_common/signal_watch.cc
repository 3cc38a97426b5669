#include "cli_common/signal_watch.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
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

SignalWatch::SignalWatch() {
  const sigset_t set = CancelSignals();
  signal_fd_ = signalfd(-1, &set, SFD_CLOEXEC);
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  thread_ = std::thread([this] { Loop(); });
}

SignalWatch::~SignalWatch() {
  Stop();
  if (signal_fd_ >= 0) close(signal_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
}

void SignalWatch::OnSignal(std::function<void()> handler) {
  absl::MutexLock lock(&mu_);
  handler_ = std::move(handler);
}

void SignalWatch::Stop() {
  stop_.store(true);
  if (stop_fd_ >= 0) {
    const uint64_t one = 1;
    ssize_t ignored = write(stop_fd_, &one, sizeof(one));
    (void)ignored;
  }
  if (thread_.joinable()) thread_.join();
}

int SignalWatch::Next() {
  if (signal_fd_ < 0 || stop_fd_ < 0) {
    // No descriptors (out of them at start): look every 50 ms.
    const sigset_t set = CancelSignals();
    struct timespec step = {0, 50 * 1000 * 1000};
    return sigtimedwait(&set, nullptr, &step);
  }
  // Woken by a signal or by Stop() at once: lease-run's command starts
  // without waiting out a polling step.
  pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  if (poll(fds, 2, -1) <= 0 || (fds[0].revents & POLLIN) == 0) return 0;
  signalfd_siginfo info;
  if (read(signal_fd_, &info, sizeof(info)) != sizeof(info)) return 0;
  return static_cast<int>(info.ssi_signo);
}

void SignalWatch::Loop() {
  while (!stop_.load()) {
    const int sig = Next();
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
