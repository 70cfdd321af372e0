// The subscriber slot table: claiming, reading, and reaping slots.
//
//   auto index = snapbus::claim_slot(segment, snapbus::current_process(),
//                                    {.name = "worker-1"}, {.acked_seq = now.seq});
//   for (const snapbus::SlotInfo& slot : snapbus::read_slots(segment)) print(slot);
//
// A slot belongs to the process whose pid is in its claim word; start_time (from /proc) tells a
// reused pid apart, so a dead process's slot is recognised and freed instead of waited on.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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

// Whether `pid` still maps `segment`. A child that exec'd another program after fork keeps its pid
// and start time, but not the mapping, and will never ack. True when it cannot be told (another
// user's process, or a filesystem whose /proc/<pid>/maps does not show the inode stat() gives).
bool still_maps(const Segment& segment, pid_t pid);

struct SlotClaim {
  std::string name;
  bool wait_for_ack = true;
};

// A copy of one claimed slot, for status output and ack reports.
struct SlotInfo {
  std::uint32_t index = 0;
  ProcessIdentity owner;
  bool alive = false;  // running, and still mapping this segment
  bool wait_for_ack = false;
  std::string name;
  std::uint32_t acked_seq = 0;
  std::uint64_t handled_generation = 0;
  std::uint64_t ack_wall_ns = 0;
  AckOutcome outcome = AckOutcome::none;
  std::uint16_t hooks_run = 0;
  std::uint16_t hooks_failed = 0;
  std::string message;
};

// What a new slot starts out as having handled. A process that joins now has nothing to catch up
// on (the current seq and generation); a forked child starts from its parent's slot.
struct SlotBaseline {
  std::uint32_t acked_seq = 0;
  std::uint64_t handled_generation = 0;
};

// Claims a free slot (or, when none is free, the slot of a dead process) for `self`.
// Errc::no_free_slot when every slot belongs to a live process.
std::uint32_t claim_slot(Segment& segment, const ProcessIdentity& self, const SlotClaim& claim,
                         const SlotBaseline& baseline);

// Frees a slot if `self` still owns it. Never touches another process's slot.
void release_slot(Segment& segment, std::uint32_t index, const ProcessIdentity& self) noexcept;

enum class Liveness {
  check,  // read /proc for each owner (a file read per slot: microseconds each)
  skip,   // leave SlotInfo::alive true; for hot loops that check liveness separately
};

// Copies every claimed slot (pid != 0).
std::vector<SlotInfo> read_slots(const Segment& segment, Liveness liveness = Liveness::check);

// Publisher only: frees the slots of dead processes. Returns what was reaped, as it was.
std::vector<SlotInfo> reap_dead_slots(Segment& segment);

}  // namespace snapbus
