#include "snapbus/subscriber_join.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "snapbus/slot_table.h"

namespace snapbus::lifecycle {
namespace {

// How often the slot table is read while waiting: a fraction of any sensible stable_for, and cheap
// (one /proc read per slot).
constexpr auto kJoinPollInterval = std::chrono::milliseconds(5);

std::vector<SlotInfo> departed_subscribers(const Segment& segment) {
  std::vector<SlotInfo> departed;
  for (SlotInfo& slot : read_slots(segment, Liveness::check)) {
    if (slot.wait_for_ack && !slot.alive) departed.push_back(std::move(slot));
  }
  return departed;
}

}  // namespace

std::size_t count_waited_for(const Segment& segment, Liveness liveness) {
  const std::vector<SlotInfo> slots = read_slots(segment, liveness);
  return static_cast<std::size_t>(
      std::count_if(slots.begin(), slots.end(), [](const SlotInfo& slot) { return slot.wait_for_ack && slot.alive; }));
}

JoinOutcome wait_for_subscribers(const Segment& segment, const JoinCondition& condition,
                                 FutexClock::time_point deadline, const std::atomic<bool>* stop,
                                 const JoinProgress& on_progress, std::chrono::milliseconds progress_interval) {
  std::size_t count = count_waited_for(segment);
  auto count_since = FutexClock::now();
  auto next_progress = count_since + progress_interval;
  for (;;) {
    const auto now = FutexClock::now();
    if (count >= condition.at_least && now - count_since >= condition.stable_for) return {true, count};
    if (now >= deadline || (stop != nullptr && stop->load())) return {false, count, departed_subscribers(segment)};
    if (on_progress && now >= next_progress) {
      on_progress(count);
      next_progress = now + progress_interval;
    }
    std::this_thread::sleep_for(std::min<FutexClock::duration>(kJoinPollInterval, deadline - now));
    const std::size_t latest = count_waited_for(segment);
    if (latest != count) {
      count = latest;
      count_since = FutexClock::now();
    }
  }
}

}  // namespace snapbus::lifecycle
