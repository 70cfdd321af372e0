#include "thread_heap.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <thread>

#include "snapbus/sanitizer_build.h"

namespace snapbus {
namespace {

// The number of mappings this process has, read with system calls and a stack buffer only: an
// allocation here would make the very heap the tests look for.
int mapping_count() {
  const int fd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int lines = 0;
  char buffer[4096];
  for (ssize_t got; (got = ::read(fd, buffer, sizeof buffer)) > 0;) {
    for (ssize_t i = 0; i < got; ++i) lines += buffer[i] == '\n' ? 1 : 0;
  }
  ::close(fd);
  return lines;
}

struct Counts {
  int before = 0;
  int after_heap = 0;
  int after_allocation = 0;
};

// On a new thread: the mappings at its start, after make_thread_heap() (when `make_heap`), and
// after its first allocation of the size a hook's bookkeeping makes.
Counts counts_on_a_new_thread(bool make_heap) {
  Counts counts;
  std::thread thread([&] {
    counts.before = mapping_count();
    if (make_heap) make_thread_heap();
    counts.after_heap = mapping_count();
    void* volatile block = std::malloc(64);
    counts.after_allocation = mapping_count();
    std::free(block);
  });
  thread.join();
  std::fprintf(stderr, "mappings: %d at the thread's start, %d after make_thread_heap, %d after its first allocation\n",
               counts.before, counts.after_heap, counts.after_allocation);
  return counts;
}

// Whether each new thread gets a glibc heap of its own: not under a sanitizer's allocator, nor
// with the number of heaps capped by the environment.
const char* why_no_heap_per_thread() {
  if (kAddressSanitizer || kThreadSanitizer) return "a sanitizer's allocator has no per-thread glibc heaps";
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr ||
      (tunables != nullptr && std::string_view(tunables).find("arena_max") != std::string_view::npos)) {
    return "the environment caps glibc's heaps (MALLOC_ARENA_MAX or glibc.malloc.arena_max)";
  }
  return nullptr;
}

// Runs `check` in a process of its own: the "threadsafe" death test style starts this binary afresh
// for the statement. In a process where a thread has ended, a new thread reuses the heap it left
// and makes no mapping (gtest_repeat, gtest_shuffle, or every test of the binary in one process).
void expect_in_a_fresh_process(bool (*check)(), const char* what) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::exit(check() ? 0 : 1), testing::ExitedWithCode(0), "") << what;
}

// The control: the count sees a thread's heap being made.
TEST(ThreadHeapTest, AThreadsFirstAllocationMapsItsHeap) {
  if (const char* why = why_no_heap_per_thread()) GTEST_SKIP() << why;
  expect_in_a_fresh_process(
      [] {
        const Counts counts = counts_on_a_new_thread(false);
        return counts.before > 0 && counts.after_allocation > counts.after_heap;
      },
      "a new thread's first allocation made no mapping");
}

TEST(ThreadHeapTest, AfterMakeThreadHeapTheFirstAllocationMapsNothing) {
  if (const char* why = why_no_heap_per_thread()) GTEST_SKIP() << why;
  expect_in_a_fresh_process(
      [] {
        const Counts counts = counts_on_a_new_thread(true);
        return counts.before > 0 && counts.after_heap > counts.before && counts.after_allocation == counts.after_heap;
      },
      "make_thread_heap() made no heap, or the allocation after it still mapped one");
}

}  // namespace
}  // namespace snapbus
