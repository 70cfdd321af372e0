#include "guarded_mapping.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <future>
#include <memory>
#include <thread>

#include "snapbus/sanitizer_build.h"
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
  if constexpr (kAddressSanitizer || kThreadSanitizer) {
    EXPECT_NE(code, 0) << "the sanitizer's own SIGBUS report, chained to, ends the child";
  } else {
    EXPECT_EQ(code, 128 + SIGBUS);
  }
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

// A rescue held in progress by the test: the signal handler, once it has found the view, waits
// (spinning, as a handler may) until the test lets it go, for at most 10 s.
enum class Rescue : int { none, paused, let_go };
std::atomic<Rescue> held_rescue{Rescue::none};

void hold_rescue() {
  held_rescue.store(Rescue::paused);
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const time_t give_up = now.tv_sec + 10;
  while (held_rescue.load() != Rescue::let_go && now.tv_sec < give_up) {
    ::sched_yield();
    ::clock_gettime(CLOCK_MONOTONIC, &now);
  }
}

// A thread whose sent SIGBUS is taken for a fault passed on (see on_sigbus): it rescues the view
// over the file that shrank, and stays held inside the handler.
class HeldRescue {
 public:
  HeldRescue() {
    held_rescue.store(Rescue::none);
    GuardedMapping::set_rescue_pause_for_testing(&hold_rescue);
    thread_ = std::thread([] { ::pthread_kill(::pthread_self(), SIGBUS); });
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (held_rescue.load() != Rescue::paused && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
  }
  HeldRescue(const HeldRescue&) = delete;
  HeldRescue& operator=(const HeldRescue&) = delete;
  ~HeldRescue() { finish(); }

  static bool under_way() { return held_rescue.load() == Rescue::paused; }
  // Lets the handler go on and returns once it is done.
  void finish() {
    held_rescue.store(Rescue::let_go);
    if (thread_.joinable()) thread_.join();
    GuardedMapping::set_rescue_pause_for_testing(nullptr);
  }

 private:
  std::thread thread_;
};

// The signal handler had found the view when its owner, on another thread, released it. The view
// must stay mapped until the rescue is over: unmapped, its address goes to the next mapping, and
// the rescue's zero pages would land on that one.
TEST(GuardedMappingTest, ARescueUnderWayKeepsTheViewMappedUntilItEnds) {
  testing::ScratchDirectory dir;
  const int fd = make_file(dir.path() / "file", 8192);
  auto view = std::make_unique<GuardedMapping>(fd, 0, 8192, PROT_READ);
  void* const address = view->address();
  ASSERT_EQ(::ftruncate(fd, 0), 0);
  HeldRescue rescue;
  ASSERT_TRUE(HeldRescue::under_way()) << "the sent SIGBUS never reached the view";
  std::atomic<bool> released{false};
  // What the kernel would put at the freed address next, with bytes of its own.
  auto next_mapping = std::async(std::launch::async, [&] {
    view.reset();
    released.store(true);
    void* next =
        ::mmap(address, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (next != MAP_FAILED) std::memset(next, 0xab, 8192);
    return next;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(released.load()) << "the view was unmapped while the handler was about to put zero pages there";
  rescue.finish();
  ASSERT_EQ(next_mapping.wait_for(10s), std::future_status::ready) << "the release never ended";
  void* const next = next_mapping.get();
  ASSERT_EQ(next, address) << "the freed address was not free: " << std::strerror(errno);
  EXPECT_EQ(static_cast<volatile unsigned char*>(next)[100], 0xab) << "the rescue's zero pages hit the next mapping";
  ::munmap(next, 8192);
  ::close(fd);
}

// A child forked while another thread of the parent was inside the handler has no such thread: its
// copy of the view is released at once, instead of waiting for a rescue that will never end.
TEST(GuardedMappingTest, AChildForkedDuringARescueReleasesTheViewAtOnce) {
  testing::ScratchDirectory dir;
  const int fd = make_file(dir.path() / "file", 8192);
  auto view = std::make_unique<GuardedMapping>(fd, 0, 8192, PROT_READ);
  ASSERT_EQ(::ftruncate(fd, 0), 0);
  HeldRescue rescue;
  ASSERT_TRUE(HeldRescue::under_way()) << "the sent SIGBUS never reached the view";
  auto child = testing::fork_child([&] {
    view.reset();
    return 0;
  });
  EXPECT_EQ(child.wait_exit_code(10s), 0) << "-1: the child still waits for the parent's rescue";
  rescue.finish();
  view.reset();
  ::close(fd);
}

}  // namespace
}  // namespace snapbus
