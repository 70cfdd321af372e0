#include "snapbus/catch_up.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <vector>

#include "clock.h"
#include "snapbus/error.h"
#include "snapbus/segment.h"
#include "snapbus/seqlock.h"
#include "snapbus/slot_table.h"

namespace snapbus {
namespace {

// Function-local statics: a client takes its first look during static initialisation.
std::mutex& looks_mutex() {
  static std::mutex mutex;
  return mutex;
}
std::map<std::filesystem::path, std::optional<SegmentLook>>& looks() {
  static std::map<std::filesystem::path, std::optional<SegmentLook>> taken;
  return taken;
}

// Whether `self` started before `mono_ns` (CLOCK_MONOTONIC). Its start time is in clock ticks of
// CLOCK_BOOTTIME, which also counts time suspended: taken away as it stands now. Where a restore
// counted as suspended time (the guest told it slept), that makes a process from before the restore
// look older still, never younger, so the answer holds either way; a suspend after the process
// started makes it look older too. Ticks round down: a process that started up to one tick (10 ms)
// after `mono_ns` may count as before it. Each error costs a catch-up that was not needed, never one
// that was. (A process in a time namespace of its own reads clocks the publisher does not: there
// the comparison is off by the namespace's offsets.)
bool started_before(const ProcessIdentity& self, std::uint64_t mono_ns) {
  const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  if (self.start_time == 0 || ticks_per_second <= 0) return false;
  const std::uint64_t started_boot_ns =
      self.start_time * (1'000'000'000ULL / static_cast<std::uint64_t>(ticks_per_second));
  const std::uint64_t boot_now = clock_ns(CLOCK_BOOTTIME);
  const std::uint64_t mono_now = clock_ns(CLOCK_MONOTONIC);
  const std::uint64_t suspended = boot_now > mono_now ? boot_now - mono_now : 0;
  return started_boot_ns < mono_ns + suspended;
}

// The last restore followed a snapshot, and this process started before that restore was
// published: it lived through the restore (frozen into the snapshot, or started during the bracket,
// which the snapshot froze too) and only looks now, as it loaded the client late. A restore
// published without a snapshot before it (by hand), or with none since the last one prepared,
// restored no memory: there is nothing to owe.
bool lived_through_last_restore(const StateSnapshot& state, const ProcessIdentity& self) {
  const bool restored =
      state.phase == Phase::after_restore || state.phase == Phase::running || state.phase == Phase::shutting_down;
  return restored && state.generation > 0 && state.snapshot_mono_ns != 0 &&
         state.restore_mono_ns >= state.snapshot_mono_ns && started_before(self, state.restore_mono_ns);
}

// This process handled `generation` already, in a program it has since replaced (exec): that
// program's slot names the same pid and start time, released at the exec (so its lock is not held)
// and kept until the publisher's next step reaps it. Without it, the new program would run the same
// restore's hooks again. A slot whose lock is held belongs to a live subscriber that only looks like
// this process (the same pid and start tick in another pid namespace): it says nothing of this one.
bool handled_before_an_exec(const Segment& segment, const ProcessIdentity& self, std::uint64_t generation) {
  // Liveness is asked of a matching slot only: one fcntl, not one per slot.
  const std::vector<SlotInfo> slots = read_slots(segment, Liveness::skip);
  return std::any_of(slots.begin(), slots.end(), [&](const SlotInfo& slot) {
    return slot.owner.pid == self.pid && slot.owner.start_time == self.start_time &&
           slot.handled_generation >= generation && !slot_held(segment, slot.index);
  });
}

std::uint64_t restores_owed(const Segment& segment, const StateSnapshot& state) {
  ProcessIdentity self;
  try {
    self = current_process();
  } catch (const Error&) {
    return 0;  // no /proc to read: the first look stands as seen, as it did before the rule above
  }
  if (!lived_through_last_restore(state, self)) return 0;
  return handled_before_an_exec(segment, self, state.generation) ? 0 : 1;
}

std::optional<SegmentLook> look_now(const std::filesystem::path& path, std::optional<gid_t> group) {
  try {
    const Segment segment = Segment::open(path, SegmentAccess::observe, group);
    if (segment.damage()) return std::nullopt;
    const StateSnapshot state = read_state(segment.state());
    return SegmentLook{identity_of(segment), state.generation - restores_owed(segment, state)};
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace

SegmentIdentity identity_of(const Segment& segment) {
  return {static_cast<std::uint64_t>(segment.device()), static_cast<std::uint64_t>(segment.inode()),
          segment.header().created_wall_ns};
}

std::optional<SegmentLook> first_look(const std::filesystem::path& path, std::optional<gid_t> group) {
  std::lock_guard lock(looks_mutex());
  const auto found = looks().find(path);
  if (found != looks().end()) return found->second;
  std::optional<SegmentLook> look = look_now(path, group);
  looks().emplace(path, look);
  return look;
}

std::uint64_t catch_up_baseline(const std::filesystem::path& path, const SegmentIdentity& attached,
                                const std::optional<HandledRestores>& handled, std::optional<gid_t> group) {
  if (handled && handled->segment == attached) return handled->generation;
  const std::optional<SegmentLook> first = first_look(path, group);
  if (first && first->segment == attached) return first->generation;
  return 0;
}

}  // namespace snapbus
