#include "thread_heap.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "snapbus/sanitizer_build.h"

namespace snapbus {
namespace {

// The number of mappings this process has, read with system calls and a stack buffer only: an
// allocation here would make the very heap the tests look for. Each ctest entry is a process of
// its own (gtest_discover_tests), so no thread has exited before and left a heap to reuse.
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
  return counts;
}

constexpr bool kGlibcMalloc = !kAddressSanitizer && !kThreadSanitizer;
constexpr const char* kNotGlibcMalloc = "a sanitizer's allocator has no per-thread glibc heaps";

// What the module is for: the control that shows the count sees a heap being made.
TEST(ThreadHeapTest, AThreadsFirstAllocationMapsItsHeap) {
  if constexpr (!kGlibcMalloc) GTEST_SKIP() << kNotGlibcMalloc;
  const Counts counts = counts_on_a_new_thread(false);
  ASSERT_GT(counts.before, 0);
  EXPECT_GT(counts.after_allocation, counts.after_heap);
}

TEST(ThreadHeapTest, AfterMakeThreadHeapTheFirstAllocationMapsNothing) {
  if constexpr (!kGlibcMalloc) GTEST_SKIP() << kNotGlibcMalloc;
  const Counts counts = counts_on_a_new_thread(true);
  ASSERT_GT(counts.before, 0);
  EXPECT_GT(counts.after_heap, counts.before);
  EXPECT_EQ(counts.after_allocation, counts.after_heap);
}

}  // namespace
}  // namespace snapbus
