// A MAP_SHARED view of part of a file that survives the file shrinking under it.
//
//   GuardedMapping head(fd, 0, 4096, PROT_READ);
//   auto* header = static_cast<const SegmentHeader*>(head.address());
//   ... // someone truncates the file: the next access reads zeros instead of raising SIGBUS
//   if (head.broken()) { /* detach with an error */ }
//
// Touching a page of a shared file mapping that lies past the end of the file (the file was
// truncated), or whose block cannot be allocated (a sparse file on a full filesystem), raises
// SIGBUS and kills the process. Segment files are ours, but anyone with the same uid can shrink
// one, and the hot path (one load of the generation word) cannot afford an fstat per access. So a
// process-wide SIGBUS handler, installed on the first mapping, looks the faulting address up among
// the live GuardedMappings: inside one, it puts private zero pages over that whole view (the
// faulting load is retried and reads 0), marks it broken and returns; anywhere else, it hands the
// signal to whatever handler was there before (or the default action). The owner notices broken()
// and detaches with an error; the process lives.
//
// A handler installed later (Python's faulthandler, a crash reporter) sees the fault first. One
// that passes it on by putting ours back and raising the signal again sends a SIGBUS without the
// faulting address; then every view whose file shrank gets zero pages, and the retried access
// reads 0. A handler that ends the process instead is beyond our reach.
// Each view keeps a descriptor of its own for that check.
#pragma once

#include <cstddef>

#include <sys/types.h>

namespace snapbus {

class GuardedMapping {
 public:
  GuardedMapping() = default;
  // mmap(MAP_SHARED) of [offset, offset + length) of fd; offset is page-aligned. Throws Error.
  GuardedMapping(int fd, off_t offset, std::size_t length, int protection);
  GuardedMapping(GuardedMapping&& other) noexcept;
  GuardedMapping& operator=(GuardedMapping&& other) noexcept;
  GuardedMapping(const GuardedMapping&) = delete;
  GuardedMapping& operator=(const GuardedMapping&) = delete;
  ~GuardedMapping();

  void* address() const noexcept { return address_; }
  std::size_t length() const noexcept { return length_; }
  // True once an access faulted (the file shrank, or a block could not be allocated) or
  // abandon() ran: the view now holds private zero pages, no longer the file.
  bool broken() const noexcept;
  // Puts private zero pages over the view now, as the SIGBUS handler would on the next fault:
  // for an owner that learned the file shrank before touching it.
  void abandon() noexcept;
  // Puts private zero pages over the view, as abandon(), and lets go of the file: the view leaves
  // the SIGBUS guard (256 views per process) and its descriptor there is closed. The address stays
  // mapped and readable until the GuardedMapping is destroyed, for a reader on another thread that
  // may still hold it. Out of memory for the zero pages, the view stays as it is.
  void forget_file() noexcept;
  // Maps the same part of the file again, at the same address, through `fd`: another open file
  // description of the same file. A forked child does this so that nothing of it refers to its
  // parent's description any more: a mapping keeps its description alive, and with it the file
  // locks taken through it, which must end when the parent does. A broken view stays as it is.
  // Throws Error; the view is unchanged then.
  void rebind(int fd);

  // Tests only: `pause` (async-signal-safe) runs inside every rescue, after it has found the view
  // and before it puts zero pages there; nullptr removes it. It lets a test hold a rescue in
  // progress while another thread releases the view.
  static void set_rescue_pause_for_testing(void (*pause)()) noexcept;

 private:
  void release() noexcept;
  void* address_ = nullptr;
  std::size_t length_ = 0;
  off_t offset_ = 0;
  int protection_ = 0;
  int registry_index_ = -1;
};

}  // namespace snapbus
