// Shared (cross-process) futex wait and wake on a 32-bit word in a MAP_SHARED mapping.
//
//   using namespace std::chrono_literals;
//   auto deadline = snapbus::FutexClock::now() + 50ms;
//   switch (snapbus::futex_wait(&state.seq, seen_seq, deadline)) {
//     case snapbus::FutexResult::woken:          // someone called futex_wake; re-read the word
//     case snapbus::FutexResult::value_changed:  // the word was no longer seen_seq
//     case snapbus::FutexResult::interrupted:    // a signal; re-check and wait again
//     case snapbus::FutexResult::timed_out: break;
//   }
//   snapbus::futex_wake_all(&state.seq);
//
// Always the shared operations (no FUTEX_PRIVATE_FLAG): the waiters are other processes, and a
// private wait keyed on this process's mm would never see their wakes. Deadlines are absolute on
// CLOCK_MONOTONIC (FUTEX_WAIT_BITSET), so a wait that is interrupted and retried never stretches.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

namespace snapbus {

using FutexClock = std::chrono::steady_clock;                 // CLOCK_MONOTONIC on Linux
using FutexDeadline = std::optional<FutexClock::time_point>;  // nullopt: wait without a bound

enum class FutexResult {
  woken,          // returned after a wake (or spuriously): the caller re-reads the word
  value_changed,  // the word did not hold `expected` when the kernel looked
  timed_out,      // the deadline passed
  interrupted,    // a signal handler ran
};

// The longest wait: a user's "--timeout-ms 9223372036854775807" means "a very long time", never a
// deadline that overflowed into the past.
inline constexpr std::chrono::milliseconds kLongestWait = std::chrono::hours(24 * 365);

// now() + timeout, saturated at kLongestWait from now. Negative counts as zero.
FutexClock::time_point deadline_after(std::chrono::milliseconds timeout) noexcept;

// The next part of a wait that looks up between parts (for a lost file, a reader gone): it ends
// `length` from now, or at `deadline` if that comes first, and then it is the last.
struct WaitSlice {
  FutexClock::time_point until;
  bool last = false;
};
WaitSlice next_wait_slice(FutexDeadline deadline, FutexClock::duration length) noexcept;

// Which wakes reach a waiter: a wake reaches the waiters whose mask shares a bit with its own
// (FUTEX_WAIT_BITSET / FUTEX_WAKE_BITSET). Plain FUTEX_WAIT and FUTEX_WAKE, as a client in another
// language may use, count as every bit, so they send and take every wake.
using FutexMask = std::uint32_t;
inline constexpr FutexMask kFutexEveryWake = 0xffffffffU;  // FUTEX_BITSET_MATCH_ANY

// Sleeps while *word == expected, until woken (by a wake that shares a bit with `mask`), the
// deadline passes, or a signal arrives. A read-only mapping is fine: the kernel only reads the word.
FutexResult futex_wait(const std::atomic<std::uint32_t>* word, std::uint32_t expected, FutexDeadline deadline,
                       FutexMask mask = kFutexEveryWake);

// Wakes every waiter on the word whose mask shares a bit with `mask`; returns how many were woken.
int futex_wake_all(const std::atomic<std::uint32_t>* word, FutexMask mask = kFutexEveryWake);

}  // namespace snapbus
