// Before publishing: wait until the subscribers that need the step hold their slots.
//
//   const auto deadline = snapbus::FutexClock::now() + std::chrono::seconds(5);
//   snapbus::lifecycle::JoinOutcome joined =
//       snapbus::lifecycle::wait_for_subscribers(publisher.segment(), {.at_least = 2}, deadline);
//   if (!joined.reached) { /* only joined.count of 2 workers came up: do not take the snapshot */ }
//
// A worker still starting up when before-snapshot is published would miss the bracket, so a driver
// that knows how many workers to expect waits for them first (`snapbus publish --expect-subscribers`).
// One that cannot know asks instead for the count to stay unchanged for a while (`stable_for`).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <vector>

#include "snapbus/futex.h"
#include "snapbus/segment.h"
#include "snapbus/slot_table.h"

namespace snapbus::lifecycle {

// Both parts must hold at once: at least `at_least` live slots that want to be waited for, and,
// when `stable_for` is above zero, that count unchanged for `stable_for` ("no new worker for 200 ms").
struct JoinCondition {
  std::size_t at_least = 0;
  std::chrono::milliseconds stable_for{0};
};

struct JoinOutcome {
  bool reached = false;
  std::size_t count = 0;  // live slots that want to be waited for, when the wait ended
  // When the condition was not reached: subscribers whose process has ended (crashed or exited),
  // their slots not yet reaped: why the count fell short, rather than a worker that never imported.
  std::vector<SlotInfo> departed;
};

// Live slots that want to be waited for: the subscribers a published phase will wait on.
// Liveness::skip counts every claimed slot, for a caller that has just reaped the departed.
std::size_t count_waited_for(const Segment& segment, Liveness liveness = Liveness::check);

// Called once a progress interval while the condition does not hold: the count so far. A wait for
// workers that never come can last minutes, and should not be silent.
using JoinProgress = std::function<void(std::size_t count)>;

// Polls the slot table (claiming a slot wakes nobody, and this runs once per snapshot) until the
// condition holds, the deadline passes, or `stop` (when given) becomes true.
JoinOutcome wait_for_subscribers(const Segment& segment, const JoinCondition& condition,
                                 FutexClock::time_point deadline, const std::atomic<bool>* stop = nullptr,
                                 const JoinProgress& on_progress = {},
                                 std::chrono::milliseconds progress_interval = std::chrono::seconds(1));

}  // namespace snapbus::lifecycle
