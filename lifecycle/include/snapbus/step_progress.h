// A step of the bracket as lines of text, for whoever shows it to a person: `snapbus publish`
// prints them, the adapter logs them.
//
//   snapbus::lifecycle::StepLines lines([](std::string_view line) { std::cerr << line << '\n'; });
//   StepResult result = run_step(publisher, Step::restore, options, lines);
//   log(describe_entries(result.report, result.ack_timeout, "restore: "));  // one line per subscriber
//
// One wording for every driver, so a line in the Lambda logs reads the same as the one a person saw
// when they ran `snapbus publish` by hand.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "snapbus/lifecycle_step.h"

namespace snapbus::lifecycle {

using LineSink = std::function<void(std::string_view line)>;

// When the "published" line is written.
enum class PublishedLine {
  at_once,
  // Held until the first progress line, or until the driver takes it with take_held() to write
  // with the outcome: a write between the publish and the acks wakes whoever reads the log, and on
  // a small VM that process then competes with the subscribers for the CPU.
  held,
};

// "published after-restore (seq 10, generation 1); waiting for 2 subscribers...", then once a
// progress interval "still waiting for 1: pid 12 (api)"; before it, while workers are awaited,
// "1 of 2 expected subscribers so far".
class StepLines : public StepObserver {
 public:
  explicit StepLines(LineSink sink, PublishedLine when = PublishedLine::at_once)
      : sink_(std::move(sink)), when_(when) {}
  void published(const StateSnapshot& state, std::size_t waited_for) override;
  void still_waiting(const AckProgress& progress) override;
  void still_joining(std::size_t count, const JoinCondition& condition) override;
  // The held "published" line, or "" when there is none (written already, or at_once).
  std::string take_held();

 private:
  LineSink sink_;
  PublishedLine when_;
  std::string held_;
};

// One subscriber's outcome, indented under the step: "  acked    pid 12 (api): ok (2 hooks run)",
// "  FAILED   pid 13 (w): 1 of 2 hooks failed: ...", "  MISSING  ...", "  DIED     ...", "  left     ...".
std::string describe_entry(const AckEntry& entry, std::chrono::milliseconds ack_timeout);

// Every entry of the report, each line starting with `prefix`, joined by '\n' (no final newline;
// empty when nobody was waited for): one block, written in one call while a first request waits.
std::string describe_entries(const AckReport& report, std::chrono::milliseconds ack_timeout, std::string_view prefix);

}  // namespace snapbus::lifecycle
