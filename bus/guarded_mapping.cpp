#include "guarded_mapping.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <string>

#include "snapbus/error.h"
#include "snapbus/sanitizer_build.h"

namespace snapbus {
namespace {

// The live views, read by the signal handler without locks: a view is published by storing its
// length, then its start (release); the handler reads the start first (acquire). Few processes
// hold more than a handful of segments; a process that maps more is refused, never left unguarded.
//
// A handler on one thread may have read a view's start when its owner, on another, unregisters and
// unmaps it: the handler's zero pages would then land on whatever the kernel maps there next. So
// the handler counts itself in `rescuers` before it reads the start, and the owner, having cleared
// the start, waits for that count to drop to zero before it unmaps the view or closes its
// descriptor. Both sides use sequentially consistent operations: either the handler sees the start
// cleared, or the owner sees the handler counted.
struct GuardedRange {
  std::atomic<int> rescuers{0};
  std::atomic<std::uintptr_t> start{0};
  std::atomic<std::size_t> length{0};
  std::atomic<bool> broken{false};
  // The file's end the view needs (offset + length), and a descriptor of our own for the file
  // (-1 if none could be had): for a SIGBUS that comes without the faulting address (see on_sigbus).
  std::atomic<std::uint64_t> file_end{0};
  std::atomic<int> fd{-1};
};
constexpr int kMaxGuardedRanges = 256;
GuardedRange guarded_ranges[kMaxGuardedRanges];
std::mutex registry_mutex;  // serialises registration only; the handler never takes it
struct sigaction previous_sigbus {};
std::atomic<void (*)()> rescue_pause{nullptr};

// A rescue of the range by the signal handler, counted for as long as it lasts (see GuardedRange).
class RangeRescue {
 public:
  explicit RangeRescue(GuardedRange& range) noexcept : range_(range) { range_.rescuers.fetch_add(1); }
  ~RangeRescue() { range_.rescuers.fetch_sub(1); }
  RangeRescue(const RangeRescue&) = delete;
  RangeRescue& operator=(const RangeRescue&) = delete;

 private:
  GuardedRange& range_;
};

// The owner's side: returns once no handler is rescuing the range any more. A rescue takes an
// fstat and an mmap, so this spins for microseconds at most.
void wait_for_rescuers(const GuardedRange& range) noexcept {
  while (range.rescuers.load() != 0) ::sched_yield();
}

// A forked child has only the thread that forked: a count that another thread of the parent held
// (it was inside the handler) would never drop in the child.
void forget_rescuers_in_child() noexcept {
  for (GuardedRange& range : guarded_ranges) range.rescuers.store(0, std::memory_order_relaxed);
}

#if SNAPBUS_THREAD_SANITIZER
// ThreadSanitizer's runtime; the declarations are its documented dynamic annotations.
extern "C" void AnnotateIgnoreWritesBegin(const char* file, int line);
extern "C" void AnnotateIgnoreWritesEnd(const char* file, int line);

// ThreadSanitizer models an mmap over a live range as a plain write of every byte, and so reports
// the swap below as racing with each atomic load other threads make of the view. It is not one: the
// kernel swaps each page table entry at once, so a reader sees the file's word or a zero, never a
// torn one. While a thread's writes are ignored, the runtime forgets the range's history instead.
struct SwapIsNotAWrite {
  SwapIsNotAWrite() { AnnotateIgnoreWritesBegin(__FILE__, __LINE__); }
  ~SwapIsNotAWrite() { AnnotateIgnoreWritesEnd(__FILE__, __LINE__); }
  SwapIsNotAWrite(const SwapIsNotAWrite&) = delete;
  SwapIsNotAWrite& operator=(const SwapIsNotAWrite&) = delete;
};
#else
struct SwapIsNotAWrite {};
#endif

// Private zero pages over the view, in place: the faulting instruction is retried and reads 0.
// False when the kernel refused them (out of memory): the caller must not return to the fault.
// The caller holds a RangeRescue, or owns the view.
bool replace_with_zero_pages(GuardedRange& range) noexcept {
  const std::uintptr_t start = range.start.load();
  if (start == 0) return false;
  if (auto* pause = rescue_pause.load(std::memory_order_acquire)) pause();
  // The address is the view's own, kept as an integer so the handler can read it lock-free.
  void* const view = reinterpret_cast<void*>(start);  // NOLINT(performance-no-int-to-ptr)
  void* zeros = nullptr;
  {
    [[maybe_unused]] const SwapIsNotAWrite swap;
    zeros = ::mmap(view, range.length.load(std::memory_order_relaxed), PROT_READ | PROT_WRITE,
                   MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  if (zeros == MAP_FAILED) return false;
  range.broken.store(true, std::memory_order_release);
  return true;
}

// Zero pages over the view that holds `address`. False if no view does, or none could be had.
bool rescue_view_at(std::uintptr_t address) noexcept {
  for (GuardedRange& range : guarded_ranges) {
    const RangeRescue rescue(range);
    const std::uintptr_t start = range.start.load();
    if (start != 0 && address >= start && address - start < range.length.load(std::memory_order_relaxed)) {
      return replace_with_zero_pages(range);
    }
  }
  return false;
}

// Zero pages over every view whose file now ends before the view does. True if there was one,
// including one that another thread has already put zero pages over since the fault.
bool rescue_shrunken_views() noexcept {
  bool rescued = false;
  for (GuardedRange& range : guarded_ranges) {
    const RangeRescue rescue(range);
    if (range.start.load() == 0) continue;
    struct stat status {};
    const int fd = range.fd.load();
    if (fd < 0 || ::fstat(fd, &status) != 0) continue;
    if (static_cast<std::uint64_t>(status.st_size) < range.file_end.load(std::memory_order_relaxed)) {
      const bool zeros_there = range.broken.load(std::memory_order_acquire) || replace_with_zero_pages(range);
      rescued = rescued || zeros_there;
    }
  }
  return rescued;
}

// A SIGBUS sent by kill() or raise() (si_code <= 0), not raised by a fault, carries no address.
// One comes from a handler installed after ours that caught our fault first and passes it on by
// raising it again once it has put ours back: Python's faulthandler does this. The faulting access
// then runs again; with zero pages over the shrunken file it reads zeros instead of faulting. So a
// sent SIGBUS that finds a view over a shrunken file is taken for such a fault, and ends nothing.
bool sent_not_faulted(const siginfo_t* info) noexcept { return info->si_code <= 0; }

void on_sigbus(int signal, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  const bool rescued = sent_not_faulted(info) ? rescue_shrunken_views()
                                              : rescue_view_at(reinterpret_cast<std::uintptr_t>(info->si_addr));
  errno = saved_errno;
  if (rescued) return;
  // Not ours: behave as if we had never been installed.
  if ((previous_sigbus.sa_flags & SA_SIGINFO) != 0 && previous_sigbus.sa_sigaction != nullptr) {
    previous_sigbus.sa_sigaction(signal, info, context);
  } else if (previous_sigbus.sa_handler != SIG_DFL && previous_sigbus.sa_handler != SIG_IGN) {
    previous_sigbus.sa_handler(signal);
  } else if (previous_sigbus.sa_handler == SIG_IGN && sent_not_faulted(info)) {
    return;  // ignored, as it was before us (a fault cannot be ignored: it kills, as below)
  } else {
    // Back to the default action. Returning re-runs a faulting access, which now kills; a signal
    // that was sent is sent again, and kills at once (SA_NODEFER leaves it unblocked here).
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    ::sigaction(SIGBUS, &default_action, nullptr);
    if (sent_not_faulted(info)) ::raise(SIGBUS);
  }
}

void install_handler_once() {
  static std::once_flag installed;
  std::call_once(installed, [] {
    struct sigaction action {};
    action.sa_sigaction = &on_sigbus;
    action.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    if (::sigaction(SIGBUS, &action, &previous_sigbus) != 0) throw_system_error(errno, "install SIGBUS handler");
    if (const int err = ::pthread_atfork(nullptr, nullptr, &forget_rescuers_in_child); err != 0) {
      throw_system_error(err, "register the SIGBUS guard's fork handler");
    }
  });
}

int register_range(void* address, std::size_t length, int fd, off_t offset) {
  std::lock_guard lock(registry_mutex);
  for (int i = 0; i < kMaxGuardedRanges; ++i) {
    GuardedRange& range = guarded_ranges[i];
    if (range.start.load(std::memory_order_relaxed) != 0) continue;
    range.broken.store(false, std::memory_order_relaxed);
    range.length.store(length, std::memory_order_relaxed);
    range.file_end.store(static_cast<std::uint64_t>(offset) + length, std::memory_order_relaxed);
    // Our own descriptor: the owner's may be closed or replaced while the view lives. Without one
    // (out of descriptors) only a SIGBUS that names its address is rescued.
    range.fd.store(::fcntl(fd, F_DUPFD_CLOEXEC, 0), std::memory_order_relaxed);
    range.start.store(reinterpret_cast<std::uintptr_t>(address), std::memory_order_release);
    return i;
  }
  throw Error(Errc::system, "more than " + std::to_string(kMaxGuardedRanges) +
                                " segment mappings in one process; close some before opening more");
}

void unregister_range(int index) noexcept {
  std::lock_guard lock(registry_mutex);
  GuardedRange& range = guarded_ranges[index];
  range.start.store(0);
  wait_for_rescuers(range);
  const int fd = range.fd.exchange(-1, std::memory_order_relaxed);
  if (fd >= 0) ::close(fd);
}

}  // namespace

GuardedMapping::GuardedMapping(int fd, off_t offset, std::size_t length, int protection) {
  install_handler_once();
  void* address = ::mmap(nullptr, length, protection, MAP_SHARED, fd, offset);
  if (address == MAP_FAILED) throw_system_error(errno, "mmap " + std::to_string(length) + " bytes");
  try {
    registry_index_ = register_range(address, length, fd, offset);
  } catch (...) {
    ::munmap(address, length);
    throw;
  }
  address_ = address;
  length_ = length;
  offset_ = offset;
  protection_ = protection;
}

GuardedMapping::GuardedMapping(GuardedMapping&& other) noexcept
    : address_(other.address_),
      length_(other.length_),
      offset_(other.offset_),
      protection_(other.protection_),
      registry_index_(other.registry_index_) {
  other.address_ = nullptr;
  other.length_ = 0;
  other.registry_index_ = -1;
}

GuardedMapping& GuardedMapping::operator=(GuardedMapping&& other) noexcept {
  if (this != &other) {
    release();
    address_ = other.address_;
    length_ = other.length_;
    offset_ = other.offset_;
    protection_ = other.protection_;
    registry_index_ = other.registry_index_;
    other.address_ = nullptr;
    other.length_ = 0;
    other.registry_index_ = -1;
  }
  return *this;
}

GuardedMapping::~GuardedMapping() { release(); }

void GuardedMapping::release() noexcept {
  if (address_ == nullptr) return;
  // Unregister first: a fault on these addresses after the unmap is a bug, never ours to hide.
  if (registry_index_ >= 0) unregister_range(registry_index_);
  ::munmap(address_, length_);
  address_ = nullptr;
  registry_index_ = -1;
}

bool GuardedMapping::broken() const noexcept {
  return registry_index_ >= 0 && guarded_ranges[registry_index_].broken.load(std::memory_order_acquire);
}

void GuardedMapping::abandon() noexcept {
  if (registry_index_ >= 0) replace_with_zero_pages(guarded_ranges[registry_index_]);
}

void GuardedMapping::forget_file() noexcept {
  if (registry_index_ < 0 || !replace_with_zero_pages(guarded_ranges[registry_index_])) return;
  unregister_range(registry_index_);
  registry_index_ = -1;
}

void GuardedMapping::rebind(int fd) {
  if (address_ == nullptr || registry_index_ < 0 || broken()) return;
  // Mapped elsewhere first, then moved over the old view in one step (mremap replaces what is at
  // the target): a failure leaves the old view in place, and no reader ever finds a hole.
  void* fresh = ::mmap(nullptr, length_, protection_, MAP_SHARED, fd, offset_);
  if (fresh == MAP_FAILED) throw_system_error(errno, "mmap " + std::to_string(length_) + " bytes again");
  void* moved = nullptr;
  {
    [[maybe_unused]] const SwapIsNotAWrite swap;
    moved = ::mremap(fresh, length_, length_, MREMAP_MAYMOVE | MREMAP_FIXED, address_);
  }
  if (moved == MAP_FAILED) {
    const int err = errno;
    ::munmap(fresh, length_);
    throw_system_error(err, "move a new mapping of " + std::to_string(length_) + " bytes into place");
  }
  GuardedRange& range = guarded_ranges[registry_index_];
  const int old_fd = range.fd.exchange(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  // A handler may be about to fstat the old descriptor: it must not be another file's by then.
  wait_for_rescuers(range);
  if (old_fd >= 0) ::close(old_fd);
}

void GuardedMapping::set_rescue_pause_for_testing(void (*pause)()) noexcept {
  rescue_pause.store(pause, std::memory_order_release);
}

}  // namespace snapbus
