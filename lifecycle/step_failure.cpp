#include "snapbus/step_failure.h"

#include "snapbus/error.h"

namespace snapbus::lifecycle {

std::string subscriber_label(const SlotInfo& slot) {
  return "pid " + std::to_string(slot.owner.pid) + " (" + (slot.name.empty() ? std::string("-") : slot.name) + ")";
}

std::string describe_problem(const AckEntry& entry, std::chrono::milliseconds ack_timeout) {
  const std::string who = subscriber_label(entry.slot);
  switch (entry.status) {
    case AckStatus::acked:
    case AckStatus::left:
    case AckStatus::ended: return {};
    case AckStatus::failed: {
      std::string text = who + " failed " + std::to_string(entry.slot.hooks_failed) + " of " +
                         std::to_string(entry.slot.hooks_run) + " hooks";
      if (!entry.slot.message.empty()) text += ": " + entry.slot.message;
      return text;
    }
    case AckStatus::missing: {
      std::string text = who + " did not acknowledge within " + std::to_string(ack_timeout.count()) + " ms";
      if (auto hook = running_hook_of(entry.slot)) text += " (still running " + *hook + ")";
      return text;
    }
    case AckStatus::died: {
      // A process that dies in a hook is most often killed by it (memory, a crash in native code):
      // the hook is where to look.
      std::string text = who + " died before acknowledging";
      if (auto hook = running_hook_of(entry.slot)) text += ", while running " + *hook;
      return text;
    }
  }
  return who + " " + ack_status_name(entry.status);
}

std::string describe_join_shortfall(const StepResult& result) {
  const std::size_t expected = result.join ? result.join->at_least : 0;
  const std::chrono::milliseconds waited = result.stopped_after.value_or(result.ack_timeout);
  std::string text = "only " + std::to_string(result.joined.count) + " of " + std::to_string(expected) +
                     " expected subscribers joined within " + std::to_string(waited.count()) + " ms";
  for (std::size_t i = 0; i < result.joined.departed.size(); ++i) {
    text += (i == 0 ? "; subscribed, then ended: " : ", ") + subscriber_label(result.joined.departed[i]);
  }
  return text;
}

LambdaError lambda_error_for(const StepResult& result) {
  SNAPBUS_REQUIRE(!result.ok(), "a step that succeeded has no Lambda error");
  LambdaError error;
  if (result.step == Step::before_snapshot) {
    error.type = kBeforeSnapshotErrorType;
  } else if (result.step == Step::restore) {
    error.type = kAfterRestoreErrorType;
  } else {
    throw Error(Errc::invalid_argument,
                "only before-snapshot and restore have a Lambda error, not " + std::string(step_name(result.step)));
  }

  const std::string step(step_name(result.step));
  if (result.outcome == StepOutcome::too_few_joined) {
    error.message = describe_join_shortfall(result) + "; " + step + " was not published";
    return error;
  }
  std::size_t failing = 0;
  std::string problems;
  for (const AckEntry& entry : result.report.entries) {
    const std::string problem = describe_problem(entry, result.ack_timeout);
    if (problem.empty()) continue;
    ++failing;
    problems += (problems.empty() ? "" : "; ") + problem;
  }
  error.message = step + " not acknowledged by " + std::to_string(failing) + " of " +
                  std::to_string(result.report.entries.size()) + " subscribers: " + problems;
  return error;
}

}  // namespace snapbus::lifecycle
