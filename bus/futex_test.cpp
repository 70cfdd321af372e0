#include "snapbus/futex.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "testing/child_process.h"

namespace snapbus {
namespace {

using namespace std::chrono_literals;

TEST(Futex, TimesOutAtTheDeadline) {
  std::atomic<std::uint32_t> word{5};
  const auto start = FutexClock::now();
  EXPECT_EQ(futex_wait(&word, 5, start + 30ms), FutexResult::timed_out);
  EXPECT_GE(FutexClock::now() - start, 30ms);
}

TEST(Futex, DeadlineInThePastReturnsAtOnce) {
  std::atomic<std::uint32_t> word{5};
  EXPECT_EQ(futex_wait(&word, 5, FutexClock::now() - 1s), FutexResult::timed_out);
}

TEST(Futex, AWaitSliceEndsAtItsLengthOrAtAnEarlierDeadline) {
  const auto before = FutexClock::now();
  const WaitSlice unbounded = next_wait_slice(std::nullopt, 1s);
  EXPECT_FALSE(unbounded.last);
  EXPECT_GE(unbounded.until, before + 1s);
  const WaitSlice far = next_wait_slice(before + 1h, 1s);
  EXPECT_FALSE(far.last);
  EXPECT_LT(far.until, before + 1h);
  const WaitSlice near = next_wait_slice(before + 10ms, 1s);
  EXPECT_TRUE(near.last);
  EXPECT_EQ(near.until, before + 10ms);
}

TEST(Futex, StaleExpectedValueIsEagain) {
  std::atomic<std::uint32_t> word{5};
  EXPECT_EQ(futex_wait(&word, 4, FutexClock::now() + 5s), FutexResult::value_changed);
}

// True once thread `tid` of this process is blocked in the futex system call.
bool thread_blocked_in_futex(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/syscall");
  long number = -1;
  in >> number;
  return number == SYS_futex;
}

// The wake is sent only once the waiter is blocked in the kernel, so only the wake can release it.
TEST(Futex, WakeReleasesAWaitingThread) {
  std::atomic<std::uint32_t> word{0};
  std::atomic<pid_t> waiter_tid{0};
  FutexResult result = FutexResult::timed_out;
  std::thread waiter([&] {
    waiter_tid = static_cast<pid_t>(::syscall(SYS_gettid));
    result = futex_wait(&word, 0, FutexClock::now() + 5s);
  });
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while ((waiter_tid == 0 || !thread_blocked_in_futex(waiter_tid)) && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(1ms);
  }
  const bool blocked = waiter_tid != 0 && thread_blocked_in_futex(waiter_tid);
  word.store(1);
  futex_wake_all(&word);
  waiter.join();
  ASSERT_TRUE(blocked);
  EXPECT_EQ(result, FutexResult::woken);
}

// A wake reaches only the waiters whose mask shares a bit with its own; every waiter still takes a
// wake of every bit. Both wakes are sent only once both waiters are blocked in the kernel.
TEST(Futex, MaskedWakeReachesOnlyMatchingWaiters) {
  constexpr FutexMask kOneBit = 1U << 0;
  std::atomic<std::uint32_t> word{0};
  std::atomic<pid_t> narrow_tid{0};
  std::atomic<pid_t> wide_tid{0};
  std::atomic<bool> narrow_done{false};
  std::thread narrow([&] {
    narrow_tid = static_cast<pid_t>(::syscall(SYS_gettid));
    futex_wait(&word, 0, FutexClock::now() + 5s, kOneBit);
    narrow_done = true;
  });
  std::thread wide([&] {
    wide_tid = static_cast<pid_t>(::syscall(SYS_gettid));
    futex_wait(&word, 0, FutexClock::now() + 5s);
  });
  auto blocked = [](const std::atomic<pid_t>& tid) { return tid != 0 && thread_blocked_in_futex(tid); };
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (!(blocked(narrow_tid) && blocked(wide_tid)) && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(1ms);
  }
  const bool both_blocked = blocked(narrow_tid) && blocked(wide_tid);
  const int by_other_bits = futex_wake_all(&word, ~kOneBit);
  wide.join();
  const bool narrow_slept_on = !narrow_done;
  const int by_every_bit = futex_wake_all(&word);
  narrow.join();
  ASSERT_TRUE(both_blocked);
  EXPECT_EQ(by_other_bits, 1);  // the wide waiter only
  EXPECT_TRUE(narrow_slept_on);
  EXPECT_EQ(by_every_bit, 1);
}

void ignore_signal(int) {}

TEST(Futex, SignalInterruptsTheWait) {
  struct sigaction action {};
  action.sa_handler = ignore_signal;  // no SA_RESTART: the wait must come back with EINTR
  ASSERT_EQ(sigaction(SIGUSR1, &action, nullptr), 0);
  std::atomic<std::uint32_t> word{0};
  std::atomic<bool> done{false};
  FutexResult result = FutexResult::woken;
  std::thread waiter([&] {
    result = futex_wait(&word, 0, FutexClock::now() + 5s);
    done = true;
  });
  const pthread_t handle = waiter.native_handle();
  // Keep signalling until the wait returns: a signal that lands before the thread blocks is lost.
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (!done && std::chrono::steady_clock::now() < give_up) {
    pthread_kill(handle, SIGUSR1);
    std::this_thread::sleep_for(5ms);
  }
  waiter.join();
  EXPECT_EQ(result, FutexResult::interrupted);
  signal(SIGUSR1, SIG_DFL);
}

// The real use: a waiter in another process, on a read-only MAP_SHARED mapping of the word. The
// wake is sent only once the child is blocked, so only a cross-process wake can release it.
TEST(Futex, WakesAnotherProcessThroughReadOnlySharedMapping) {
  void* shared = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(shared, MAP_FAILED);
  auto* word = static_cast<std::atomic<std::uint32_t>*>(shared);
  word->store(0);
  auto child = testing::fork_child([&] {
    if (mprotect(shared, 4096, PROT_READ) != 0) return 2;  // the subscriber's view
    const auto result = futex_wait(word, 0, FutexClock::now() + 5s);
    return result == FutexResult::woken && word->load() == 1 ? 0 : 10 + static_cast<int>(result);
  });
  ASSERT_TRUE(child.wait_until_blocked_in_futex(5s));
  word->store(1);
  EXPECT_EQ(futex_wake_all(word), 1);
  EXPECT_EQ(child.wait_exit_code(5s), 0);
  munmap(shared, 4096);
}

}  // namespace
}  // namespace snapbus
