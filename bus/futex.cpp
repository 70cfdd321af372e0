#include "snapbus/futex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <ctime>

#include "snapbus/error.h"

namespace snapbus {
namespace {

long futex_syscall(const std::atomic<std::uint32_t>* word, int op, std::uint32_t value, const timespec* timeout,
                   std::uint32_t bitset) {
  // The kernel reads the word as a plain u32; std::atomic<uint32_t> is one (checked in layout.h).
  return syscall(SYS_futex, reinterpret_cast<const std::uint32_t*>(word), op, value, timeout, nullptr, bitset);
}

timespec to_timespec(FutexClock::time_point deadline) {
  const auto since_epoch = deadline.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds);
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(seconds.count());
  ts.tv_nsec = static_cast<long>(nanos.count());
  if (ts.tv_sec < 0) ts = timespec{};  // a deadline before the clock's epoch has simply passed
  return ts;
}

}  // namespace

FutexClock::time_point deadline_after(std::chrono::milliseconds timeout) noexcept {
  return FutexClock::now() + std::clamp(timeout, std::chrono::milliseconds::zero(), kLongestWait);
}

WaitSlice next_wait_slice(FutexDeadline deadline, FutexClock::duration length) noexcept {
  const FutexClock::time_point slice_end = FutexClock::now() + length;
  if (deadline && *deadline <= slice_end) return {.until = *deadline, .last = true};
  return {.until = slice_end, .last = false};
}

FutexResult futex_wait(const std::atomic<std::uint32_t>* word, std::uint32_t expected, FutexDeadline deadline,
                       FutexMask mask) {
  SNAPBUS_REQUIRE(mask != 0, "a futex wait needs a non-empty mask");
  timespec ts{};
  const timespec* timeout = nullptr;
  if (deadline) {
    ts = to_timespec(*deadline);
    timeout = &ts;
  }
  // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline (plain FUTEX_WAIT takes a relative
  // one), which steady_clock is on Linux.
  const long rc = futex_syscall(word, FUTEX_WAIT_BITSET, expected, timeout, mask);
  if (rc == 0) return FutexResult::woken;
  const int err = errno;
  switch (err) {
    // EAGAIN: *word != expected when the kernel compared it; the caller's view is already stale.
    case EAGAIN: return FutexResult::value_changed;
    // ETIMEDOUT: the absolute deadline passed before a wake.
    case ETIMEDOUT: return FutexResult::timed_out;
    // EINTR: a signal handler ran; the kernel does not restart futex waits for us.
    case EINTR: return FutexResult::interrupted;
    // EFAULT: the word is not mapped, EINVAL: misaligned word or bad timeout, ENOSYS: no futex.
    // Each is a broken caller or a broken mapping, never a condition to wait through.
    default: throw_system_error(err, "futex wait");
  }
}

int futex_wake_all(const std::atomic<std::uint32_t>* word, FutexMask mask) {
  SNAPBUS_REQUIRE(mask != 0, "a futex wake needs a non-empty mask");
  static_assert(kFutexEveryWake == FUTEX_BITSET_MATCH_ANY);
  const long rc = futex_syscall(word, FUTEX_WAKE_BITSET, static_cast<std::uint32_t>(INT_MAX), nullptr, mask);
  // FUTEX_WAKE fails only for an unmapped (EFAULT) or misaligned (EINVAL) word: a caller's bug.
  if (rc < 0) throw_system_error(errno, "futex wake");
  return static_cast<int>(rc);
}

}  // namespace snapbus
