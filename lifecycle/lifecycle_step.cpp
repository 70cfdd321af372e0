#include "snapbus/lifecycle_step.h"

#include <array>
#include <utility>

namespace snapbus::lifecycle {
namespace {

constexpr std::array<std::pair<Step, std::string_view>, 5> kStepNames{{
    {Step::starting, "starting"},
    {Step::before_snapshot, "before-snapshot"},
    {Step::restore, "restore"},
    {Step::running, "running"},
    {Step::shutdown, "shutdown"},
}};

}  // namespace

std::string_view step_name(Step step) noexcept {
  for (const auto& [known, name] : kStepNames) {
    if (known == step) return name;
  }
  return "unknown";
}

std::optional<Step> step_from_name(std::string_view name) noexcept {
  for (const auto& [step, known] : kStepNames) {
    if (known == name) return step;
  }
  return std::nullopt;
}

StepPlan plan_for(Step step) noexcept {
  switch (step) {
    case Step::starting: return {Phase::starting, std::nullopt};
    case Step::before_snapshot: return {Phase::before_snapshot, Phase::snapshot_ready};
    case Step::restore: return {Phase::after_restore, Phase::running};
    case Step::running: return {Phase::running, std::nullopt};
    case Step::shutdown: return {Phase::shutting_down, std::nullopt};
  }
  return {Phase::running, std::nullopt};
}

StepResult run_step(Publisher& publisher, Step step, const StepOptions& options, StepObserver& observer) {
  StepResult result;
  result.step = step;
  result.ack_timeout = options.ack_timeout;
  result.join = options.join;
  // One limit for the whole step: what the join takes, the hooks do not get (Lambda's limits are
  // for a phase, not for each wait in it).
  const auto started = FutexClock::now();
  const FutexClock::time_point deadline = deadline_after(options.ack_timeout);
  const auto waited = [started] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(FutexClock::now() - started);
  };

  // 1. Enough subscribers first, or nothing is published.
  if (options.join) {
    const JoinCondition& join = *options.join;
    result.joined = wait_for_subscribers(
        publisher.segment(), join, deadline, options.stop,
        [&observer, &join](std::size_t count) { observer.still_joining(count, join); }, options.progress_interval);
    if (!result.joined.reached) {
      if (options.stop != nullptr && options.stop->load() && FutexClock::now() < deadline) {
        result.stopped_after = waited();
      }
      result.outcome = StepOutcome::too_few_joined;
      result.final_state = publisher.state();
      return result;
    }
  }

  // 2. Publish, and wait for everyone who asked to be waited for, with progress. A quiet phase
  // (starting, running) runs no hook and hook runners sleep through it (layout.h): nothing to wait for.
  const StepPlan plan = plan_for(step);
  const StateSnapshot published = publisher.transition(plan.phase);
  result.published = published;
  result.report.seq = published.seq;
  if (runs_hooks(plan.phase)) {
    // transition() has just reaped the departed: no need to ask the kernel about each slot again.
    result.waited_for = count_waited_for(publisher.segment(), Liveness::skip);
  }
  observer.published(published, result.waited_for);
  if (result.waited_for > 0) {
    const auto report_progress = [&observer](const AckProgress& progress) { observer.still_waiting(progress); };
    result.report = publisher.wait_for_acks(
        published.seq, deadline,
        {.progress_interval = options.progress_interval, .on_progress = report_progress, .stop = options.stop});
    if (result.report.stopped) result.stopped_after = waited();
  }

  // 3. Move on only when all acked ok; otherwise the phase stays for the driver to report.
  result.outcome = result.report.all_ok() ? StepOutcome::all_acked : StepOutcome::not_acknowledged;
  result.final_state = published;
  if (result.ok() && plan.after_all_acked) result.final_state = publisher.transition(*plan.after_all_acked);
  return result;
}

StepResult run_step(Publisher& publisher, Step step, const StepOptions& options) {
  StepObserver silent;
  return run_step(publisher, step, options, silent);
}

}  // namespace snapbus::lifecycle
