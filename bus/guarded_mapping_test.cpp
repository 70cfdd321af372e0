#include "guarded_mapping.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "testing/child_process.h"
#include "testing/scratch_directory.h"

namespace snapbus {
namespace {

using namespace std::chrono_literals;

int make_file(const std::filesystem::path& path, off_t size) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || ::ftruncate(fd, size) != 0) ADD_FAILURE() << "cannot make " << path;
  return fd;
}

void expect_killed_by_sigbus(testing::ChildProcess& child) {
  const int code = child.wait_exit_code(10s);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  EXPECT_NE(code, 0) << "the sanitizer's own SIGBUS report, chained to, ends the child";
#else
  EXPECT_EQ(code, 128 + SIGBUS);
#endif
}

TEST(GuardedMappingTest, AFaultInsideTheViewReadsZerosAndMarksItBroken) {
  testing::ScratchDirectory dir;
  const int fd = make_file(dir.path() / "file", 8192);
  GuardedMapping view(fd, 0, 8192, PROT_READ | PROT_WRITE);
  auto* words = static_cast<volatile std::uint64_t*>(view.address());
  words[0] = 42;
  words[600] = 43;
  EXPECT_FALSE(view.broken());
  ASSERT_EQ(::ftruncate(fd, 4096), 0);
  EXPECT_EQ(words[600], 0U) << "the page past the end of the file";
  EXPECT_TRUE(view.broken());
  EXPECT_EQ(words[0], 0U) << "the whole view is replaced, not just the page that faulted";
  ::close(fd);
}

// Only our views are ours to rescue: any other SIGBUS still kills, as if no handler were there.
TEST(GuardedMappingTest, AFaultOutsideEveryViewStillKills) {
  testing::ScratchDirectory dir;
  const int guarded_fd = make_file(dir.path() / "guarded", 4096);
  GuardedMapping view(guarded_fd, 0, 4096, PROT_READ);  // installs the handler
  auto child = testing::fork_child([&] {
    const int fd = make_file(dir.path() / "plain", 8192);
    auto* plain = static_cast<volatile std::uint64_t*>(::mmap(nullptr, 8192, PROT_READ, MAP_SHARED, fd, 0));
    if (::ftruncate(fd, 0) != 0) return 3;
    return static_cast<int>(plain[600]);  // SIGBUS
  });
  expect_killed_by_sigbus(child);
  ::close(guarded_fd);
}

// What a handler installed after ours does with a fault it does not own, as Python's faulthandler
// does: put the previous handler (ours) back and raise the signal again.
struct sigaction displaced_handler {};
// Set: the view another thread abandons (as a client's segment monitor does on seeing the file
// shrink) while the later handler is at work.
GuardedMapping* abandoned_meanwhile = nullptr;
void pass_on_by_raising(int signal) {
  if (abandoned_meanwhile != nullptr) abandoned_meanwhile->abandon();
  ::sigaction(SIGBUS, &displaced_handler, nullptr);
  ::raise(signal);
}

// The raised SIGBUS names no address; the faulting access runs again once the handler returns.
// Run once as it is, and once with the view already rescued when the raised signal arrives.
void expect_a_passed_on_fault_reads_zeros(bool abandon_meanwhile) {
  testing::ScratchDirectory dir;
  auto child = testing::fork_child([&] {
    const int fd = make_file(dir.path() / "file", 8192);
    GuardedMapping view(fd, 0, 8192, PROT_READ);
    if (abandon_meanwhile) abandoned_meanwhile = &view;
    struct sigaction later {};
    later.sa_handler = &pass_on_by_raising;
    later.sa_flags = SA_NODEFER | SA_ONSTACK;
    sigemptyset(&later.sa_mask);
    if (::sigaction(SIGBUS, &later, &displaced_handler) != 0 || ::ftruncate(fd, 4096) != 0) return 3;
    const std::uint64_t past_the_end = static_cast<volatile std::uint64_t*>(view.address())[600];
    return past_the_end == 0 && view.broken() ? 0 : 4;
  });
  EXPECT_EQ(child.wait_exit_code(10s), 0) << "128 + " << SIGBUS << ": the raised SIGBUS killed the process";
}

TEST(GuardedMappingTest, AFaultPassedOnByALaterHandlerStillReadsZeros) { expect_a_passed_on_fault_reads_zeros(false); }

TEST(GuardedMappingTest, AFaultPassedOnAfterTheViewWasRescuedStillReadsZeros) {
  expect_a_passed_on_fault_reads_zeros(true);
}

// A SIGBUS that kill() or raise() sent while no view is damaged is not ours: it kills at once, as
// it would with no handler installed, instead of being swallowed.
TEST(GuardedMappingTest, ASentSigbusWithNoViewDamagedStillKills) {
  testing::ScratchDirectory dir;
  auto child = testing::fork_child([&] {
    const int fd = make_file(dir.path() / "file", 4096);
    const GuardedMapping view(fd, 0, 4096, PROT_READ);
    ::raise(SIGBUS);
    return 0;
  });
  expect_killed_by_sigbus(child);
}

// Ignored before the guard came (an ignored disposition survives exec): a sent one stays ignored.
TEST(GuardedMappingTest, ASentSigbusThatWasIgnoredStaysIgnored) {
  testing::ScratchDirectory dir;
  auto child = testing::fork_child([&] {
    if (::signal(SIGBUS, SIG_IGN) == SIG_ERR) return 3;
    const int fd = make_file(dir.path() / "file", 4096);
    const GuardedMapping view(fd, 0, 4096, PROT_READ);
    ::raise(SIGBUS);
    return 0;
  });
  EXPECT_EQ(child.wait_exit_code(10s), 0);
}

TEST(GuardedMappingTest, AbandonPutsZerosOverTheViewBeforeAnyFault) {
  testing::ScratchDirectory dir;
  const int fd = make_file(dir.path() / "file", 4096);
  GuardedMapping view(fd, 0, 4096, PROT_READ | PROT_WRITE);
  static_cast<volatile std::uint64_t*>(view.address())[0] = 9;
  view.abandon();
  EXPECT_TRUE(view.broken());
  EXPECT_EQ(static_cast<volatile std::uint64_t*>(view.address())[0], 0U);
  std::uint64_t on_disk = 0;
  ASSERT_EQ(::pread(fd, &on_disk, sizeof on_disk, 0), static_cast<ssize_t>(sizeof on_disk));
  EXPECT_EQ(on_disk, 9U) << "the file itself is left alone";
  ::close(fd);
}

// How a client meets a truncated segment: one thread still loads the view's atomics while another
// abandons it. Nothing orders the two (a relaxed flag makes no happens-before), so under
// ThreadSanitizer this fails if the swap is taken for a write that races with those loads.
TEST(GuardedMappingTest, AbandonWhileAnotherThreadLoadsTheViewIsNoDataRace) {
  testing::ScratchDirectory dir;
  const int fd = make_file(dir.path() / "file", 4096);
  GuardedMapping view(fd, 0, 4096, PROT_READ | PROT_WRITE);
  auto* word = static_cast<std::atomic<std::uint32_t>*>(view.address());
  word->store(7, std::memory_order_relaxed);
  std::atomic<bool> loaded{false};
  std::atomic<bool> abandoned{false};
  std::uint32_t before = 0;
  std::uint32_t after = 0;
  std::thread reader([&] {
    before = word->load(std::memory_order_acquire);
    loaded.store(true, std::memory_order_relaxed);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!abandoned.load(std::memory_order_relaxed) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    after = word->load(std::memory_order_acquire);
  });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!loaded.load(std::memory_order_relaxed) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  view.abandon();
  abandoned.store(true, std::memory_order_relaxed);
  reader.join();
  EXPECT_EQ(before, 7U);
  EXPECT_EQ(after, 0U) << "the reader sees the zero pages, not the file";
  ::close(fd);
}

}  // namespace
}  // namespace snapbus
