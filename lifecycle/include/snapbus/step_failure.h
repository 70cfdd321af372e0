// How a failed step of the bracket reads: to the Lambda Runtime API, and to a person.
//
//   snapbus::lifecycle::StepResult result = run_step(publisher, Step::before_snapshot, options);
//   if (!result.ok()) {
//     snapbus::lifecycle::LambdaError error = snapbus::lifecycle::lambda_error_for(result);
//     // POST /runtime/init/error, header Lambda-Runtime-Function-Error-Type: error.type,
//     // body {"errorType": error.type, "errorMessage": error.message}
//   }
//
// Lambda takes no snapshot after a before-snapshot error, and discards a restored copy after an
// after-restore error; the message is what the function's owner reads in the logs, so it names
// every process that failed (pid and name), the hooks that failed and why, and every subscriber
// that died or never answered.
#pragma once

#include <string>
#include <string_view>

#include "snapbus/lifecycle_step.h"
#include "snapbus/slot_table.h"

namespace snapbus::lifecycle {

// The error types Lambda's own runtimes use (sent to init/error and restore/error respectively).
inline constexpr std::string_view kBeforeSnapshotErrorType = "Runtime.BeforeSnapshotError";
inline constexpr std::string_view kAfterRestoreErrorType = "Runtime.AfterRestoreError";

struct LambdaError {
  std::string type;
  std::string message;
};

// The error for a failed before_snapshot step (for init/error) or restore step (for
// restore/error). Error(invalid_argument) for a step that succeeded or has no Lambda error.
LambdaError lambda_error_for(const StepResult& result);

// "pid 4242 (api)"; a subscriber without a name shows as "pid 4242 (-)".
std::string subscriber_label(const SlotInfo& slot);

// One subscriber that did not ack ok, in a sentence: "pid 12 (api) failed 1 of 2 hooks:
// after-restore hook 'db' failed: RuntimeError: boom", "pid 13 (-) died before acknowledging",
// "pid 14 (w) did not acknowledge within 5000 ms". Empty for an entry that acked ok or left.
std::string describe_problem(const AckEntry& entry, std::chrono::milliseconds ack_timeout);

// Why nothing was published: "only 1 of 3 expected subscribers joined within 5000 ms".
std::string describe_join_shortfall(const StepResult& result);

}  // namespace snapbus::lifecycle
