#include "snapbus/slot_table.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "clock.h"
#include "snapbus/unique_fd.h"

namespace snapbus {
namespace {

struct ProcStat {
  char state = '?';
  std::uint64_t start_time = 0;
};

// Parses /proc/<pid>/stat. The command name (field 2) may hold spaces and parentheses, so fields
// are counted from the last ')'.
std::optional<ProcStat> read_proc_stat(const std::string& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::string line;
  std::getline(in, line);
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 1));
  ProcStat stat;
  fields >> stat.state;
  std::string skip;
  // After the state (field 3) come fields 4..21; starttime is field 22.
  for (int i = 4; i < 22 && fields; ++i) fields >> skip;
  fields >> stat.start_time;
  if (!fields) return std::nullopt;
  return stat;
}

// Slot i's lock is byte i of the segment file: locks are advisory and independent of the file's
// contents, so any byte range will do, and this one needs no arithmetic on the header.
struct flock slot_lock_range(std::uint32_t index, short type) {
  struct flock range {};
  range.l_type = type;
  range.l_whence = SEEK_SET;
  range.l_start = static_cast<off_t>(index);
  range.l_len = 1;
  return range;
}

// Takes slot `index`'s lock without waiting; false when another open file description holds it.
bool lock_slot(const Segment& segment, std::uint32_t index) {
  struct flock range = slot_lock_range(index, F_WRLCK);
  if (::fcntl(segment.descriptor(), F_OFD_SETLK, &range) == 0) return true;
  if (errno == EAGAIN || errno == EACCES) return false;
  throw_system_error(errno, "lock slot " + std::to_string(index) + " of segment " + segment.path().string());
}

void unlock_slot(const Segment& segment, std::uint32_t index) noexcept {
  struct flock range = slot_lock_range(index, F_UNLCK);
  ::fcntl(segment.descriptor(), F_OFD_SETLK, &range);
}

SlotInfo copy_slot(const Segment& segment, std::uint32_t index, pid_t pid, Liveness liveness) {
  const SlotRecord& slot = segment.slot(index);
  SlotInfo info;
  info.index = index;
  info.owner = {pid, slot.start_time.load(std::memory_order_relaxed)};
  info.alive = liveness == Liveness::skip || slot_held(segment, index);
  // acked_seq is released last by each acknowledgement (the pid by the claim, which the caller
  // acquired): acquired first, the ack fields below belong to it or to a later write, which the
  // record's write counter reveals (read_slot checks it; a reaped slot has no writer left).
  info.acked_seq = slot.acked_seq.load(std::memory_order_acquire);
  info.wait_for_ack = (slot.flags.load(std::memory_order_relaxed) & kSlotFlagWaitForAck) != 0;
  info.handled_generation = slot.handled_generation.load(std::memory_order_relaxed);
  info.ack_wall_ns = slot.ack_wall_ns.load(std::memory_order_relaxed);
  info.outcome = static_cast<AckOutcome>(slot.outcome.load(std::memory_order_relaxed));
  info.hooks_run = slot.hooks_run.load(std::memory_order_relaxed);
  info.hooks_failed = slot.hooks_failed.load(std::memory_order_relaxed);
  info.name = load_text(slot.name, std::size(slot.name));
  info.message = load_text(slot.message, std::size(slot.message));
  return info;
}

// Slot `index` as one owner had it at one moment, or nullopt when it is free. Two things can mix a
// copy: another owner claiming the slot during it (the pid and start time read again afterwards
// reveal that), and the owner writing its record during it (its write counter reveals that). Either
// way the slot is read again: at once a few times, then yielding, so that a writer preempted on this
// CPU can finish, for at most kPatience. A slot whose owner stopped mid-write (SIGSTOP, a debugger)
// is then shown as last read, marked mid_write; a dead owner's slot is reaped, and a claim makes the
// counter even.
std::optional<SlotInfo> read_slot(const Segment& segment, std::uint32_t index, Liveness liveness) {
  constexpr int kAttemptsBeforeYielding = 4;
  constexpr auto kPatience = std::chrono::milliseconds(5);
  const SlotRecord& slot = segment.slot(index);
  std::optional<SlotInfo> info;
  std::chrono::steady_clock::time_point give_up_at;
  for (int attempt = 0;; ++attempt) {
    if (attempt == kAttemptsBeforeYielding) give_up_at = std::chrono::steady_clock::now() + kPatience;
    if (attempt >= kAttemptsBeforeYielding) {
      if (std::chrono::steady_clock::now() >= give_up_at) {
        info->mid_write = true;
        return info;
      }
      std::this_thread::yield();
    }
    const auto pid = static_cast<pid_t>(slot.pid.load(std::memory_order_acquire));
    if (pid == 0) return std::nullopt;
    const std::uint32_t record_seq = slot.record_seq.load(std::memory_order_acquire);
    info = copy_slot(segment, index, pid, liveness);
    // Orders the copy's loads before the second look, as a seqlock's reader does.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (static_cast<pid_t>(slot.pid.load(std::memory_order_relaxed)) == pid &&
        slot.start_time.load(std::memory_order_relaxed) == info->owner.start_time && record_seq % 2 == 0 &&
        slot.record_seq.load(std::memory_order_relaxed) == record_seq) {
      return info;
    }
  }
}

}  // namespace

ProcessIdentity current_process() {
  const pid_t pid = ::getpid();
  auto stat = read_proc_stat("/proc/self/stat");
  if (!stat) throw Error(Errc::system, "cannot read /proc/self/stat to identify this process");
  return {pid, stat->start_time};
}

std::optional<std::uint64_t> process_start_time(pid_t pid) {
  auto stat = read_proc_stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return std::nullopt;
  return stat->start_time;
}

std::optional<std::string> running_hook_of(const SlotInfo& slot) {
  if (!slot.message.starts_with(kRunningHookPrefix)) return std::nullopt;
  return slot.message.substr(kRunningHookPrefix.size());
}

bool process_alive(const ProcessIdentity& process) {
  if (process.pid <= 0) return false;
  auto stat = read_proc_stat("/proc/" + std::to_string(process.pid) + "/stat");
  // Z: exited, not yet reaped by its parent. X: being torn down. Either way it will never ack.
  if (!stat || stat->state == 'Z' || stat->state == 'X') return false;
  // start_time 0: a slot claim in progress (pid set, start time not yet): the pid is all we know.
  return process.start_time == 0 || stat->start_time == process.start_time;
}

bool slot_held(const Segment& segment, std::uint32_t index) {
  // A lock held through this very descriptor never conflicts with a query through it. So a slot
  // that names this pid (ours, or one left by an earlier process that had our pid: a container
  // restarted with /tmp kept) is asked about through a second open description of the same file,
  // which sees every lock, ours included. Only such slots pay for the open.
  int descriptor = segment.descriptor();
  UniqueFd second;
  if (segment.slot(index).pid.load(std::memory_order_acquire) == static_cast<std::uint32_t>(::getpid())) {
    const std::string self_link = "/proc/self/fd/" + std::to_string(descriptor);
    second = UniqueFd(::open(self_link.c_str(), O_RDONLY | O_CLOEXEC));
    if (!second) throw_system_error(errno, "reopen " + segment.path().string() + " to query a slot lock");
    descriptor = second.get();
  }
  struct flock range = slot_lock_range(index, F_WRLCK);
  if (::fcntl(descriptor, F_OFD_GETLK, &range) != 0) {
    throw_system_error(errno, "query the lock of slot " + std::to_string(index) + " of " + segment.path().string());
  }
  return range.l_type != F_UNLCK;
}

std::uint32_t claim_slot(Segment& segment, const ProcessIdentity& self, const SlotClaim& claim,
                         const SlotBaseline& baseline) {
  SNAPBUS_REQUIRE(self.pid > 0, "claim_slot needs a real pid");
  for (int round = 0; round < 2; ++round) {
    for (std::uint32_t i = 0; i < segment.slot_count(); ++i) {
      SlotRecord& slot = segment.mutable_slot(i);
      if (slot.pid.load(std::memory_order_acquire) != 0) continue;
      // The lock first: while it is held, no other claimer (which needs it) and no reaper (which frees
      // only slots whose lock is free) writes this slot, and whoever sees our pid later can rely on the
      // lock being held. A pid still there now belongs to a dead owner not yet reaped.
      if (!lock_slot(segment, i)) continue;
      if (slot.pid.load(std::memory_order_acquire) != 0) {
        unlock_slot(segment, i);
        continue;
      }
      // Every field before the pid, which is released last: a reader that sees our pid sees this
      // claim's fields, never the acked_seq, name or outcome the slot's last owner left (a publisher
      // would count a new process as having acknowledged a change it never saw).
      slot.start_time.store(self.start_time, std::memory_order_relaxed);
      slot.flags.store(claim.wait_for_ack ? kSlotFlagWaitForAck : 0U, std::memory_order_relaxed);
      slot.handled_generation.store(baseline.handled_generation, std::memory_order_relaxed);
      slot.ack_wall_ns.store(clock_ns(CLOCK_REALTIME), std::memory_order_relaxed);
      slot.outcome.store(static_cast<std::uint16_t>(baseline.outcome), std::memory_order_relaxed);
      slot.hooks_run.store(0, std::memory_order_relaxed);
      slot.hooks_failed.store(0, std::memory_order_relaxed);
      store_text(slot.name, std::size(slot.name), claim.name);
      store_text(slot.message, std::size(slot.message), "");
      slot.acked_seq.store(baseline.acked_seq, std::memory_order_relaxed);
      // Even again if the last owner died mid-write; readers skip the slot until the pid is ours.
      const std::uint32_t record_seq = slot.record_seq.load(std::memory_order_relaxed);
      slot.record_seq.store(record_seq + record_seq % 2, std::memory_order_relaxed);
      slot.pid.store(static_cast<std::uint32_t>(self.pid), std::memory_order_release);
      return i;
    }
    // Every slot was taken: free those of departed processes once, then look again.
    if (round == 0 && reap_dead_slots(segment).empty()) break;
  }
  throw Error(Errc::no_free_slot, "segment " + segment.path().string() + ": all " +
                                      std::to_string(segment.slot_count()) +
                                      " subscriber slots belong to live processes (raise SNAPBUS_SLOTS)");
}

SlotRecordWrite::SlotRecordWrite(SlotRecord& slot) noexcept
    : slot_(slot), odd_seq_(slot.record_seq.load(std::memory_order_relaxed) | 1U) {
  slot_.record_seq.store(odd_seq_, std::memory_order_relaxed);
  // The odd count is visible before any of the record's new values (Boehm's seqlock writer).
  std::atomic_thread_fence(std::memory_order_release);
}

SlotRecordWrite::~SlotRecordWrite() { slot_.record_seq.store(odd_seq_ + 1, std::memory_order_release); }

void release_slot(Segment& segment, std::uint32_t index, const ProcessIdentity& self) noexcept {
  if (index >= segment.slot_count()) return;
  SlotRecord& slot = segment.mutable_slot(index);
  if (slot.pid.load(std::memory_order_acquire) != static_cast<std::uint32_t>(self.pid)) return;
  // While we hold the lock nobody else may change the slot: clear it, then let go.
  slot.start_time.store(0, std::memory_order_relaxed);
  slot.pid.store(0, std::memory_order_release);
  unlock_slot(segment, index);
}

std::vector<SlotInfo> read_slots(const Segment& segment, Liveness liveness) {
  std::vector<SlotInfo> slots;
  for (std::uint32_t i = 0; i < segment.slot_count(); ++i) {
    if (auto slot = read_slot(segment, i, liveness)) slots.push_back(std::move(*slot));
  }
  return slots;
}

std::optional<SlotInfo> reap_slot_if_departed(Segment& segment, std::uint32_t index) {
  const std::uint32_t pid = segment.slot(index).pid.load(std::memory_order_acquire);
  if (pid == 0) return std::nullopt;
  // Asking first is cheaper than trying (no lock to allocate when it is held, the common case);
  // the lock below still decides.
  if (slot_held(segment, index)) return std::nullopt;
  // Holding the lock, we are the slot's only writer: a live owner would hold it, and a claimer
  // needs it before it may write a pid.
  if (!lock_slot(segment, index)) return std::nullopt;
  SlotRecord& slot = segment.mutable_slot(index);
  std::optional<SlotInfo> reaped;
  if (const auto owner = static_cast<pid_t>(slot.pid.load(std::memory_order_acquire)); owner != 0) {
    reaped = copy_slot(segment, index, owner, Liveness::skip);
    reaped->alive = false;
    reaped->still_running = reaped->owner.start_time != 0 && process_alive(reaped->owner);
    slot.start_time.store(0, std::memory_order_relaxed);
    slot.pid.store(0, std::memory_order_release);
  }
  unlock_slot(segment, index);
  return reaped;
}

std::vector<SlotInfo> reap_dead_slots(Segment& segment) {
  std::vector<SlotInfo> reaped;
  for (std::uint32_t i = 0; i < segment.slot_count(); ++i) {
    if (auto slot = reap_slot_if_departed(segment, i)) reaped.push_back(std::move(*slot));
  }
  return reaped;
}

}  // namespace snapbus
