#include "snapbus/step_failure.h"

#include <gtest/gtest.h>

#include "snapbus/error.h"

namespace snapbus::lifecycle {
namespace {

using namespace std::chrono_literals;

AckEntry entry(std::uint32_t index, pid_t pid, std::string name, AckStatus status) {
  AckEntry result;
  result.slot.index = index;
  result.slot.owner.pid = pid;
  result.slot.name = std::move(name);
  result.status = status;
  return result;
}

StepResult failed_restore() {
  StepResult result;
  result.step = Step::restore;
  result.outcome = StepOutcome::not_acknowledged;
  result.ack_timeout = 5000ms;
  AckEntry flaky = entry(0, 12, "api", AckStatus::failed);
  flaky.slot.hooks_run = 2;
  flaky.slot.hooks_failed = 1;
  flaky.slot.message = "after-restore hook 'db' failed: RuntimeError: boom";
  AckEntry killed = entry(1, 13, "", AckStatus::died);
  killed.slot.message = "running after-restore hook 'warm'";
  result.report.entries = {flaky, killed, entry(2, 14, "cache", AckStatus::missing),
                           entry(3, 15, "fine", AckStatus::acked), entry(4, 16, "execd", AckStatus::left)};
  return result;
}

TEST(StepFailureTest, AFailedRestoreIsAnAfterRestoreErrorNamingEveryProcessAndHook) {
  const LambdaError error = lambda_error_for(failed_restore());
  EXPECT_EQ(error.type, "Runtime.AfterRestoreError");
  EXPECT_EQ(error.message,
            "restore not acknowledged by 3 of 5 subscribers: "
            "pid 12 (api) failed 1 of 2 hooks: after-restore hook 'db' failed: RuntimeError: boom; "
            "pid 13 (-) died before acknowledging, while running after-restore hook 'warm'; "
            "pid 14 (cache) did not acknowledge within 5000 ms");
}

TEST(StepFailureTest, AFailedBeforeSnapshotIsABeforeSnapshotError) {
  StepResult result = failed_restore();
  result.step = Step::before_snapshot;
  const LambdaError error = lambda_error_for(result);
  EXPECT_EQ(error.type, "Runtime.BeforeSnapshotError");
  EXPECT_EQ(error.message.rfind("before-snapshot not acknowledged by 3 of 5 subscribers: pid 12 (api)", 0), 0U)
      << error.message;
}

TEST(StepFailureTest, TooFewJoinedSaysHowManyCameAndThatNothingWasPublished) {
  StepResult result;
  result.step = Step::before_snapshot;
  result.outcome = StepOutcome::too_few_joined;
  result.ack_timeout = 200ms;
  result.join = JoinCondition{.at_least = 3};
  result.joined = {.reached = false, .count = 1};
  EXPECT_EQ(describe_join_shortfall(result), "only 1 of 3 expected subscribers joined within 200 ms");
  EXPECT_EQ(lambda_error_for(result).message,
            "only 1 of 3 expected subscribers joined within 200 ms; before-snapshot was not published");
  result.joined.departed = {entry(1, 31, "uvicorn", AckStatus::died).slot, entry(2, 32, "", AckStatus::died).slot};
  EXPECT_EQ(
      describe_join_shortfall(result),
      "only 1 of 3 expected subscribers joined within 200 ms; subscribed, then ended: pid 31 (uvicorn), pid 32 (-)");
}

TEST(StepFailureTest, OnlyAFailedSnapshotOrRestoreHasALambdaError) {
  StepResult ok;
  ok.step = Step::restore;
  EXPECT_THROW(lambda_error_for(ok), Error);
  StepResult shutdown = failed_restore();
  shutdown.step = Step::shutdown;
  EXPECT_THROW(lambda_error_for(shutdown), Error);
}

TEST(StepFailureTest, AMissingAcknowledgementNamesTheHookStillRunning) {
  AckEntry stuck = entry(0, 21, "api", AckStatus::missing);
  stuck.slot.message = "running after-restore hook 'reconnect-db'";
  EXPECT_EQ(describe_problem(stuck, 1000ms),
            "pid 21 (api) did not acknowledge within 1000 ms (still running after-restore hook 'reconnect-db')");
  // An earlier ack's message is not a running hook.
  stuck.slot.message = "after-restore hook 'x' failed: boom";
  EXPECT_EQ(describe_problem(stuck, 1000ms), "pid 21 (api) did not acknowledge within 1000 ms");
}

TEST(StepFailureTest, EntriesThatAckedOrLeftAreNoProblem) {
  EXPECT_EQ(describe_problem(entry(0, 1, "a", AckStatus::acked), 1s), "");
  EXPECT_EQ(describe_problem(entry(0, 1, "a", AckStatus::left), 1s), "");
  EXPECT_EQ(describe_problem(entry(0, 1, "a", AckStatus::ended), 1s), "");
  EXPECT_EQ(subscriber_label(entry(0, 7, "", AckStatus::acked).slot), "pid 7 (-)");
}

}  // namespace
}  // namespace snapbus::lifecycle
