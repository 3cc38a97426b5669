// Makes absl::Mutex visible to ThreadSanitizer when Abseil itself was built
// without it (Debian's libabsl): TSan instruments our code but not
// libabsl_synchronization, so the happens-before edges that Mutex::Lock and
// Unlock create are invisible and every guarded access looks like a race.
//
// This file, linked into a TSan test binary only, interposes the
// out-of-line Mutex and CondVar entry points: each forwards to the real
// function in the shared libabsl (dlsym RTLD_NEXT) and tells TSan about the
// synchronization (__tsan_release before giving the mutex up,
// __tsan_acquire after getting it). Only code that reaches these entry
// points through the dynamic linker is covered: our own calls are.
//
// Abseil evaluates a waiter's Condition on whichever thread holds the mutex
// at the time, often inside another thread's Unlock, after that thread's
// __tsan_release. So each Condition passed in is wrapped: its evaluation
// acquires and releases the mutex for TSan, like a short critical section.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/base/options.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

extern "C" {
void __tsan_acquire(void* addr);
void __tsan_release(void* addr);
}

namespace {

#define PORTLEASE_STR2(x) #x
#define PORTLEASE_STR(x) PORTLEASE_STR2(x)
// "absl::<inline namespace>::" as mangled: 4absl<N><name>.
std::string AbslPrefix() {
  const std::string ns = PORTLEASE_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  return "_ZN4absl" + std::to_string(ns.size()) + ns;
}

void* Real(const std::string& suffix) {
  const std::string name = AbslPrefix() + suffix;
  void* fn = dlsym(RTLD_NEXT, name.c_str());
  if (fn == nullptr) {
    std::fprintf(stderr, "absl_mutex_tsan: %s not found\n", name.c_str());
    std::abort();
  }
  return fn;
}

template <typename Fn>
Fn Lookup(const char* suffix) {
  return reinterpret_cast<Fn>(Real(suffix));
}

// A Condition that tells TSan its evaluation holds `mu`.
class AnnotatedCondition {
 public:
  AnnotatedCondition(const absl::Condition& cond, void* mu)
      : cond_(cond), mu_(mu) {}
  absl::Condition Get() { return absl::Condition(&Eval, this); }

 private:
  static bool Eval(AnnotatedCondition* self) {
    __tsan_acquire(self->mu_);
    const bool result = self->cond_.Eval();
    __tsan_release(self->mu_);
    return result;
  }

  const absl::Condition& cond_;
  void* mu_;
};

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static auto real = Lookup<void (*)(Mutex*)>("5Mutex4LockEv");
  real(this);
  __tsan_acquire(this);
}

void Mutex::Unlock() {
  static auto real = Lookup<void (*)(Mutex*)>("5Mutex6UnlockEv");
  __tsan_release(this);
  real(this);
}

bool Mutex::TryLock() {
  static auto real = Lookup<bool (*)(Mutex*)>("5Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::ReaderLock() {
  static auto real = Lookup<void (*)(Mutex*)>("5Mutex10ReaderLockEv");
  real(this);
  __tsan_acquire(this);
}

void Mutex::ReaderUnlock() {
  static auto real = Lookup<void (*)(Mutex*)>("5Mutex12ReaderUnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::LockWhen(const Condition& cond) {
  static auto real = Lookup<void (*)(Mutex*, const Condition&)>(
      "5Mutex8LockWhenERKNS0_9ConditionE");
  AnnotatedCondition annotated(cond, this);
  real(this, annotated.Get());
  __tsan_acquire(this);
}

void Mutex::Await(const Condition& cond) {
  static auto real = Lookup<void (*)(Mutex*, const Condition&)>(
      "5Mutex5AwaitERKNS0_9ConditionE");
  AnnotatedCondition annotated(cond, this);
  __tsan_release(this);
  real(this, annotated.Get());
  __tsan_acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  static auto real = Lookup<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  AnnotatedCondition annotated(cond, this);
  __tsan_release(this);
  const bool result = real(this, annotated.Get(), timeout);
  __tsan_acquire(this);
  return result;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  static auto real = Lookup<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  AnnotatedCondition annotated(cond, this);
  __tsan_release(this);
  const bool result = real(this, annotated.Get(), deadline);
  __tsan_acquire(this);
  return result;
}

void CondVar::Wait(Mutex* mu) {
  static auto real =
      Lookup<void (*)(CondVar*, Mutex*)>("7CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  static auto real = Lookup<bool (*)(CondVar*, Mutex*, absl::Duration)>(
      "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool result = real(this, mu, timeout);
  __tsan_acquire(mu);
  return result;
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static auto real = Lookup<bool (*)(CondVar*, Mutex*, absl::Time)>(
      "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  __tsan_release(mu);
  const bool result = real(this, mu, deadline);
  __tsan_acquire(mu);
  return result;
}

ABSL_NAMESPACE_END
}  // namespace absl
