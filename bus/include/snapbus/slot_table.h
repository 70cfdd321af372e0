// The subscriber slot table: claiming, reading, and reaping slots.
//
//   auto index = snapbus::claim_slot(segment, snapbus::current_process(),
//                                    {.name = "worker-1"}, {.acked_seq = now.seq});
//   for (const snapbus::SlotInfo& slot : snapbus::read_slots(segment)) print(slot);
//
// Ownership and liveness are the kernel's word, not /proc's: the owner of slot i holds an open
// file description lock (F_OFD_SETLK, write) on byte i of the segment file, through the
// segment's O_CLOEXEC descriptor. The kernel drops it when the process dies (however: os._exit,
// exit() without destructors, SIGKILL) or execs, and keeps it across a checkpoint/restore that
// restores file locks (a Firecracker snapshot; CRIU with --file-locks) whatever happens to pids and
// start times. A claimer takes the lock before it writes the pid; a reaper takes the lock before
// it clears one, so a slot whose lock nobody holds belongs to a process that is gone, and a live
// owner's slot can never be reaped. The pid and start time in the slot only name the owner.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "snapbus/layout.h"
#include "snapbus/segment.h"
#include "snapbus/seqlock.h"

namespace snapbus {

// The identity of a live process: pid plus its start time in clock ticks since boot.
struct ProcessIdentity {
  pid_t pid = 0;
  std::uint64_t start_time = 0;
};

// This process, read from /proc/self/stat. Throws Error(system) if /proc cannot be read.
ProcessIdentity current_process();
// Start time of `pid`, or nullopt if there is no such process.
std::optional<std::uint64_t> process_start_time(pid_t pid);
// True when `pid` is running and started at `start_time` (not a reused pid); a start_time of 0
// checks the pid alone. Zombies count as dead.
bool process_alive(const ProcessIdentity& process);

// Whether slot `index` has a live owner: its lock is held (by another open file description, or
// the slot names this very process). One fcntl.
bool slot_held(const Segment& segment, std::uint32_t index);

struct SlotClaim {
  std::string name;
  bool wait_for_ack = true;
};

// A copy of one claimed slot, for status output and ack reports.
struct SlotInfo {
  std::uint32_t index = 0;
  ProcessIdentity owner;
  bool alive = false;  // its owner holds the slot lock
  // For reaped slots: the pid still runs with the recorded start time but holds no lock, so the
  // process itself went on without the bus (it exec'd another program): it left, it did not die.
  bool still_running = false;
  bool wait_for_ack = false;
  std::string name;
  std::uint32_t acked_seq = 0;
  std::uint64_t handled_generation = 0;
  std::uint64_t ack_wall_ns = 0;
  AckOutcome outcome = AckOutcome::none;
  std::uint16_t hooks_run = 0;
  std::uint16_t hooks_failed = 0;
  std::string message;
  // The owner was writing its record for as long as the reader waited (5 ms): it is stopped mid-write
  // (SIGSTOP, a debugger), and the fields above may mix two writes.
  bool mid_write = false;
};

// A slot message that starts with this was written while a hook ran (Subscriber::note_running_hook),
// not by an ack.
inline constexpr std::string_view kRunningHookPrefix = "running ";

// "after-restore hook 'db'" when the slot's owner noted that it is running that hook and has not
// acknowledged since; nullopt otherwise.
std::optional<std::string> running_hook_of(const SlotInfo& slot);

// What a new slot starts out as having handled. A process that joins now has nothing to catch up
// on (the current seq and generation); a forked child starts from its parent's slot, or, forked by
// the hooks of a change, born acknowledging that change (outcome ok).
struct SlotBaseline {
  std::uint32_t acked_seq = 0;
  std::uint64_t handled_generation = 0;
  AckOutcome outcome = AckOutcome::none;
};

// Claims a free slot (or, when none is free, the slot of a dead process) for `self`, locking it
// through segment.descriptor(). Errc::no_free_slot when every slot belongs to a live process.
std::uint32_t claim_slot(Segment& segment, const ProcessIdentity& self, const SlotClaim& claim,
                         const SlotBaseline& baseline);

// Brackets a write by a slot's owner to its own record (an acknowledgement, a running hook's note):
// the record's write counter is odd for the duration, so a reader retries rather than take one
// write's outcome with another's message. One writer per slot: its owner, on one thread at a time.
//
//   { snapbus::SlotRecordWrite write(slot); slot.outcome.store(...); store_text(slot.message, ...); }
class SlotRecordWrite {
 public:
  explicit SlotRecordWrite(SlotRecord& slot) noexcept;
  ~SlotRecordWrite();
  SlotRecordWrite(const SlotRecordWrite&) = delete;
  SlotRecordWrite& operator=(const SlotRecordWrite&) = delete;

 private:
  SlotRecord& slot_;
  std::uint32_t odd_seq_;
};

// Frees a slot if `self` still owns it, then drops its lock. Never touches another process's slot.
void release_slot(Segment& segment, std::uint32_t index, const ProcessIdentity& self) noexcept;

enum class Liveness {
  check,  // ask the kernel whether each slot's lock is held (one fcntl per slot)
  skip,   // leave SlotInfo::alive true; for hot loops that check liveness separately
};

// Copies every claimed slot (pid != 0).
std::vector<SlotInfo> read_slots(const Segment& segment, Liveness liveness = Liveness::check);

// Frees slot `index` if its owner is gone (nobody holds its lock): returns the slot as it was.
// Needs a writable segment (publisher or subscriber access).
std::optional<SlotInfo> reap_slot_if_departed(Segment& segment, std::uint32_t index);
// Frees the slots of every departed owner. Returns what was reaped, as it was.
std::vector<SlotInfo> reap_dead_slots(Segment& segment);

}  // namespace snapbus
