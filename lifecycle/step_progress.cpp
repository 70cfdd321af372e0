#include "snapbus/step_progress.h"

#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "snapbus/step_failure.h"

namespace snapbus::lifecycle {

void StepLines::published(const StateSnapshot& state, std::size_t waited_for) {
  std::string line =
      fmt::format("published {} (seq {}, generation {})", phase_name(state.phase), state.seq, state.generation);
  if (waited_for == 0) {
    line += "; no subscribers to wait for";
  } else {
    line += fmt::format("; waiting for {} {}...", waited_for, waited_for == 1 ? "subscriber" : "subscribers");
  }
  if (when_ == PublishedLine::held) {
    held_ = std::move(line);
  } else {
    sink_(line);
  }
}

void StepLines::still_waiting(const AckProgress& progress) {
  if (std::string held = take_held(); !held.empty()) sink_(held);
  std::vector<std::string> pending;
  pending.reserve(progress.pending.size());
  for (const SlotInfo& slot : progress.pending) pending.push_back(subscriber_label(slot));
  sink_(fmt::format("still waiting for {}: {}", pending.size(), fmt::join(pending, ", ")));
}

void StepLines::still_joining(std::size_t count, const JoinCondition& condition) {
  if (condition.at_least > 0) {
    sink_(fmt::format("{} of {} expected subscribers so far", count, condition.at_least));
  } else {
    sink_(fmt::format("{} {} so far, waiting until none has come for {} ms", count,
                      count == 1 ? "subscriber" : "subscribers", condition.stable_for.count()));
  }
}

std::string StepLines::take_held() { return std::exchange(held_, {}); }

std::string describe_entry(const AckEntry& entry, std::chrono::milliseconds ack_timeout) {
  const std::string who = subscriber_label(entry.slot);
  switch (entry.status) {
    case AckStatus::acked:
      return fmt::format("  acked    {}: ok ({} {} run)", who, entry.slot.hooks_run,
                         entry.slot.hooks_run == 1 ? "hook" : "hooks");
    case AckStatus::failed:
      return fmt::format("  FAILED   {}: {} of {} hooks failed: {}", who, entry.slot.hooks_failed, entry.slot.hooks_run,
                         entry.slot.message);
    case AckStatus::missing: {
      std::string line = fmt::format("  MISSING  {}: no acknowledgement within {} ms", who, ack_timeout.count());
      if (auto hook = running_hook_of(entry.slot)) line += " (still running " + *hook + ")";
      return line;
    }
    case AckStatus::died: {
      std::string line = fmt::format("  DIED     {}: the process died before acknowledging", who);
      if (auto hook = running_hook_of(entry.slot)) line += ", while running " + *hook;
      return line + "; its slot was reaped";
    }
    case AckStatus::left:
      return fmt::format("  left     {}: runs another program now (exec after fork); its slot was reaped", who);
    case AckStatus::ended:
      return fmt::format("  ended    {}: the process ended before it started a hook; its slot was reaped", who);
  }
  return fmt::format("  {}  {}", ack_status_name(entry.status), who);
}

std::string describe_entries(const AckReport& report, std::chrono::milliseconds ack_timeout, std::string_view prefix) {
  std::string lines;
  for (const AckEntry& entry : report.entries) {
    if (!lines.empty()) lines += '\n';
    lines += prefix;
    lines += describe_entry(entry, ack_timeout);
  }
  return lines;
}

}  // namespace snapbus::lifecycle
