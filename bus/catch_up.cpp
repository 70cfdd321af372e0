#include "snapbus/catch_up.h"

#include <time.h>
#include <unistd.h>

#include <map>
#include <mutex>

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

// Whether this process started before `mono_ns` (CLOCK_MONOTONIC). Its start time is in clock ticks
// of CLOCK_BOOTTIME, which also counts time suspended: taken away as it stands now. Where a restore
// counted as suspended time (the guest told it slept), that makes a process from before the restore
// look older still, never younger, so the answer holds either way. Ticks round down: a process that
// started up to one tick (10 ms) after `mono_ns` may count as before it, which costs a catch-up it
// did not need, never one it did.
bool started_before(std::uint64_t mono_ns) {
  const std::optional<std::uint64_t> started_ticks = process_start_time(::getpid());
  const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  if (!started_ticks || ticks_per_second <= 0) return false;
  const std::uint64_t started_boot_ns =
      *started_ticks * (1'000'000'000ULL / static_cast<std::uint64_t>(ticks_per_second));
  const std::uint64_t boot_now = clock_ns(CLOCK_BOOTTIME);
  const std::uint64_t mono_now = clock_ns(CLOCK_MONOTONIC);
  const std::uint64_t suspended = boot_now > mono_now ? boot_now - mono_now : 0;
  return started_boot_ns < mono_ns + suspended;
}

// The last restore followed a snapshot prepared after this process started: the process lived
// through that restore, and only looks now (it loaded the client late). Without a snapshot before
// it (a restore published by hand), or with none since the last one prepared, there is none to owe.
bool lived_through_last_restore(const StateSnapshot& state) {
  const bool restored =
      state.phase == Phase::after_restore || state.phase == Phase::running || state.phase == Phase::shutting_down;
  return restored && state.generation > 0 && state.snapshot_mono_ns != 0 &&
         state.restore_mono_ns >= state.snapshot_mono_ns && started_before(state.snapshot_mono_ns);
}

std::optional<SegmentLook> look_now(const std::filesystem::path& path, std::optional<gid_t> group) {
  try {
    const Segment segment = Segment::open(path, SegmentAccess::observe, group);
    if (segment.damage()) return std::nullopt;
    const StateSnapshot state = read_state(segment.state());
    const std::uint64_t owed = lived_through_last_restore(state) ? 1 : 0;
    return SegmentLook{identity_of(segment), state.generation - owed};
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
