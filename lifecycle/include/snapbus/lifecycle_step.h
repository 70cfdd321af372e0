// One step of the snapshot/restore bracket: publish a phase, wait for the acknowledgements while
// reporting progress, and move on only when every subscriber acked ok.
//
//   auto publisher = snapbus::Publisher::acquire({.path = "/tmp/snapbus.seg"});
//   snapbus::lifecycle::StepResult result = snapbus::lifecycle::run_step(
//       publisher, snapbus::lifecycle::Step::restore, {.ack_timeout = std::chrono::seconds(10)});
//   if (!result.ok()) post_restore_error(snapbus::lifecycle::lambda_error_for(result));  // step_failure.h
//
// Every driver runs the bracket through this: `snapbus publish`, and the adapter's web and proxy
// modes. The transitions are those of docs/client-semantics.md: before-snapshot -> snapshot-ready
// and after-restore -> running once all acked ok; on a failed hook, a death or a missing ack the
// phase stays, and the driver reports the failure (Lambda then discards the snapshot or the copy).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>

#include "snapbus/config.h"
#include "snapbus/layout.h"
#include "snapbus/publisher.h"
#include "snapbus/seqlock.h"
#include "snapbus/subscriber_join.h"

namespace snapbus::lifecycle {

enum class Step {
  starting,         // enter starting: the segment exists before any worker starts
  before_snapshot,  // enter before-snapshot; all acked ok -> snapshot-ready
  restore,          // enter after-restore (generation + 1, fresh restore id); all acked ok -> running
  running,          // enter running
  shutdown,         // enter shutting-down; best effort, bounded by the ack timeout
};

// The command-line spelling: "starting", "before-snapshot", "restore", "running", "shutdown".
std::string_view step_name(Step step) noexcept;
std::optional<Step> step_from_name(std::string_view name) noexcept;

// The phase a step enters, and the one it moves on to once every acknowledgement is ok.
struct StepPlan {
  Phase phase = Phase::running;
  std::optional<Phase> after_all_acked;
};
StepPlan plan_for(Step step) noexcept;

struct StepOptions {
  // The whole step's: the join's wait and the acknowledgements' together.
  std::chrono::milliseconds ack_timeout = kDefaultAckTimeout;
  // When set, first wait (within ack_timeout) until enough subscribers joined; if they do not,
  // nothing is published.
  std::optional<JoinCondition> join;
  // How often StepObserver::still_waiting is called while acknowledgements are outstanding.
  std::chrono::milliseconds progress_interval{1000};
  // When set and it becomes true (a signal handler's flag), the step ends early as at its timeout,
  // and says so: StepResult::stopped_after.
  const std::atomic<bool>* stop = nullptr;
};

// What a step tells its driver as it goes (the CLI prints it; the adapter logs it). The default
// implementations ignore everything.
class StepObserver {
 public:
  virtual ~StepObserver() = default;
  // The phase is published; `waited_for` subscribers are expected to acknowledge it.
  virtual void published(const StateSnapshot& /*state*/, std::size_t /*waited_for*/) {}
  // Every progress_interval while some subscriber has not acknowledged yet.
  virtual void still_waiting(const AckProgress& /*progress*/) {}
  // Every progress_interval while the join condition does not hold: `count` have joined so far.
  virtual void still_joining(std::size_t /*count*/, const JoinCondition& /*condition*/) {}
};

enum class StepOutcome {
  all_acked,         // every subscriber waited for acked ok (or left); moved on where the step does
  not_acknowledged,  // a hook failed, a subscriber died or did not ack in time: the phase stays
  too_few_joined,    // the join condition did not hold within the timeout: nothing was published
};

struct StepResult {
  Step step = Step::running;
  StepOutcome outcome = StepOutcome::all_acked;
  std::chrono::milliseconds ack_timeout{0};
  std::optional<JoinCondition> join;       // the condition waited for, if any
  JoinOutcome joined;                      // its outcome (when join is set)
  std::optional<StateSnapshot> published;  // empty when nothing was published
  std::size_t waited_for = 0;              // subscribers expected to acknowledge when published
  AckReport report;                        // one entry per subscriber waited for, in slot order
  StateSnapshot final_state;               // the state when the step ended
  // Set when the step ended early on StepOptions::stop: how long it had waited by then.
  std::optional<std::chrono::milliseconds> stopped_after;

  bool ok() const noexcept { return outcome == StepOutcome::all_acked; }
};

// Runs `step` on a publisher the caller holds. Throws snapbus::Error only for system failures
// (a failed hook or a dead subscriber is an outcome, not an exception).
StepResult run_step(Publisher& publisher, Step step, const StepOptions& options, StepObserver& observer);
StepResult run_step(Publisher& publisher, Step step, const StepOptions& options);

}  // namespace snapbus::lifecycle
