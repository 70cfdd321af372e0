#include "snapbus/step_progress.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace snapbus::lifecycle {
namespace {

using namespace std::chrono_literals;

AckEntry entry(pid_t pid, std::string name, AckStatus status) {
  AckEntry result;
  result.slot.owner.pid = pid;
  result.slot.name = std::move(name);
  result.status = status;
  return result;
}

TEST(StepProgressTest, PublishedSaysThePhaseAndHowManyAreWaitedFor) {
  std::vector<std::string> lines;
  StepLines observer([&lines](std::string_view line) { lines.emplace_back(line); });
  StateSnapshot state;
  state.phase = Phase::after_restore;
  state.seq = 10;
  state.generation = 1;
  observer.published(state, 2);
  observer.published(state, 1);
  observer.published(state, 0);
  ASSERT_EQ(lines.size(), 3U);
  EXPECT_EQ(lines[0], "published after-restore (seq 10, generation 1); waiting for 2 subscribers...");
  EXPECT_EQ(lines[1], "published after-restore (seq 10, generation 1); waiting for 1 subscriber...");
  EXPECT_EQ(lines[2], "published after-restore (seq 10, generation 1); no subscribers to wait for");
}

TEST(StepProgressTest, AHeldPublishedLineGoesOutWithTheFirstProgressOrToTheDriver) {
  std::vector<std::string> lines;
  StateSnapshot state;
  state.phase = Phase::after_restore;
  state.seq = 10;
  state.generation = 1;

  StepLines quick([&lines](std::string_view line) { lines.emplace_back(line); }, PublishedLine::held);
  quick.published(state, 1);
  EXPECT_TRUE(lines.empty());
  EXPECT_EQ(quick.take_held(), "published after-restore (seq 10, generation 1); waiting for 1 subscriber...");
  EXPECT_EQ(quick.take_held(), "");

  StepLines slow([&lines](std::string_view line) { lines.emplace_back(line); }, PublishedLine::held);
  slow.published(state, 1);
  AckProgress progress;
  progress.pending = {entry(12, "api", AckStatus::missing).slot};
  slow.still_waiting(progress);
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_EQ(lines[0], "published after-restore (seq 10, generation 1); waiting for 1 subscriber...");
  EXPECT_EQ(lines[1], "still waiting for 1: pid 12 (api)");
  EXPECT_EQ(slow.take_held(), "");
}

TEST(StepProgressTest, StillWaitingNamesEveryPendingSubscriber) {
  std::vector<std::string> lines;
  StepLines observer([&lines](std::string_view line) { lines.emplace_back(line); });
  AckProgress progress;
  progress.pending = {entry(12, "api", AckStatus::missing).slot, entry(13, "", AckStatus::missing).slot};
  observer.still_waiting(progress);
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0], "still waiting for 2: pid 12 (api), pid 13 (-)");
}

TEST(StepProgressTest, EveryOutcomeHasItsOwnLine) {
  AckEntry acked = entry(12, "api", AckStatus::acked);
  acked.slot.hooks_run = 1;
  EXPECT_EQ(describe_entry(acked, 5000ms), "  acked    pid 12 (api): ok (1 hook run)");
  AckEntry failed = entry(13, "w", AckStatus::failed);
  failed.slot.hooks_run = 2;
  failed.slot.hooks_failed = 1;
  failed.slot.message = "boom";
  EXPECT_EQ(describe_entry(failed, 5000ms), "  FAILED   pid 13 (w): 1 of 2 hooks failed: boom");
  EXPECT_EQ(describe_entry(entry(14, "x", AckStatus::missing), 250ms),
            "  MISSING  pid 14 (x): no acknowledgement within 250 ms");
  AckEntry stuck = entry(14, "x", AckStatus::missing);
  stuck.slot.message = "running after-restore hook 'reconnect'";
  EXPECT_EQ(describe_entry(stuck, 250ms),
            "  MISSING  pid 14 (x): no acknowledgement within 250 ms (still running after-restore hook 'reconnect')");
  EXPECT_NE(describe_entry(entry(15, "y", AckStatus::died), 250ms).find("DIED     pid 15 (y)"), std::string::npos);
  AckEntry killed = entry(15, "y", AckStatus::died);
  killed.slot.message = "running before-snapshot hook 'flush'";
  EXPECT_EQ(describe_entry(killed, 250ms),
            "  DIED     pid 15 (y): the process died before acknowledging, while running before-snapshot hook "
            "'flush'; its slot was reaped");
  EXPECT_NE(describe_entry(entry(16, "z", AckStatus::left), 250ms).find("left     pid 16 (z)"), std::string::npos);
  EXPECT_NE(describe_entry(entry(17, "w", AckStatus::ended), 250ms).find("ended    pid 17 (w)"), std::string::npos);
}

TEST(StepProgressTest, StillJoiningSaysHowManyHaveComeAndWhatIsAwaited) {
  std::vector<std::string> lines;
  StepLines step([&lines](std::string_view line) { lines.emplace_back(line); });
  step.still_joining(1, {.at_least = 2});
  step.still_joining(1, {.stable_for = 500ms});
  step.still_joining(3, {.stable_for = 500ms});
  EXPECT_EQ(lines, (std::vector<std::string>{"1 of 2 expected subscribers so far",
                                             "1 subscriber so far, waiting until none has come for 500 ms",
                                             "3 subscribers so far, waiting until none has come for 500 ms"}));
}

TEST(StepProgressTest, EntriesAreOneBlockOfPrefixedLines) {
  AckReport report;
  EXPECT_EQ(describe_entries(report, 250ms, "restore: "), "");
  report.entries.push_back(entry(14, "x", AckStatus::missing));
  report.entries.push_back(entry(15, "y", AckStatus::missing));
  EXPECT_EQ(describe_entries(report, 250ms, "restore: "),
            "restore:   MISSING  pid 14 (x): no acknowledgement within 250 ms\n"
            "restore:   MISSING  pid 15 (y): no acknowledgement within 250 ms");
}

}  // namespace
}  // namespace snapbus::lifecycle
