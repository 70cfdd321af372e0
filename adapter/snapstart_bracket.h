// The SnapStart bracket of web mode, around restore/next: every process's hooks, acknowledged,
// before the snapshot and after each restore, plus LWA 1.1's one-POST hooks for a user who
// migrates with them configured.
//
//   SnapStartBracket bracket(publisher, config, adapter_started, io.get_executor(), log);
//   if (auto failure = co_await bracket.before_snapshot()) { co_await runtime.init_error(*failure); co_return; }
//   if (!co_await runtime.restore_next()) co_return;   // the snapshot is taken inside this call
//   if (auto failure = co_await bracket.after_restore()) { co_await runtime.restore_error(*failure); co_return; }
//
// Order: before the snapshot, wait for the workers to subscribe, POST LWA's before-checkpoint path,
// then publish before-snapshot; after a restore, publish after-restore, then POST LWA's
// after-restore path. The LWA hook is the app's own outermost layer, so it runs first on the way
// down and last on the way up (CRaC's order for hooks registered first).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "adapter_config.h"
#include "adapter_process.h"
#include "snapbus/error_body.h"
#include "snapbus/lifecycle_step.h"
#include "snapbus/publisher.h"

namespace snapbus::adapter {

// Where the adapter's progress goes: a line without its newline, or several separated by '\n'.
using AdapterLog = std::function<void(std::string_view line)>;

// How the bracket waits for the app's workers before it publishes before-snapshot: the expected
// count when SNAPBUS_EXPECT_SUBSCRIBERS is set, else a count that has stayed unchanged for
// SNAPBUS_SUBSCRIBER_SETTLE_MS (a server that forks workers after it listens has them import the
// app a little later; without an expected count, "no new worker for a while" is the best sign).
lifecycle::JoinCondition join_condition_for(const AdapterConfig& config);

// Lambda lets a SnapStart Init, before-snapshot hooks included, run for the longer of the function's
// timeout and 130 s. The function's timeout is not told to the environment, so without
// SNAPBUS_BEFORE_SNAPSHOT_TIMEOUT_MS the before-snapshot phase may last until kInitReportMargin
// before 130 s from the adapter's start (which is Init's): a hook still running then is reported in
// init/error, by process and hook, before Lambda would end Init with a bare Sandbox.Timedout.
inline constexpr std::chrono::seconds kSnapStartInitAllowance{130};
inline constexpr std::chrono::seconds kInitReportMargin{5};

// Runs a bus step beside the event loop, stoppable (AdapterProcess::run_step_aside).
using BusStepRunner = std::function<boost::asio::awaitable<lifecycle::StepResult>(BusStep step)>;

class SnapStartBracket {
 public:
  // `adapter_started`: when the adapter started, which is when Lambda's Init did. `run_aside`, when
  // given, runs the before-snapshot step, which may wait minutes for the app's workers, so that a
  // shutdown is heard meanwhile; else every step runs on the calling thread. The after-restore step
  // always does: it is bounded by Lambda's restore limit, and a thread's hand-over would delay the
  // first request.
  SnapStartBracket(Publisher& publisher, const AdapterConfig& config,
                   std::chrono::steady_clock::time_point adapter_started, boost::asio::any_io_executor executor,
                   AdapterLog log, BusStepRunner run_aside = {});

  // nullopt when every process acknowledged; else the Runtime.BeforeSnapshotError for init/error.
  boost::asio::awaitable<std::optional<lambda::FunctionError>> before_snapshot();

  // nullopt when every process acknowledged; else the Runtime.AfterRestoreError for restore/error.
  // Time the hooks took is logged, from the call to the last acknowledgement. `first_line`, when
  // given, is logged first, with the step's own lines (run_bus_step).
  boost::asio::awaitable<std::optional<lambda::FunctionError>> after_restore(std::string first_line = {});

 private:
  // The step's lines go to the log in one write after the last acknowledgement (or with the first
  // progress line of a slow step): a write wakes whoever reads the log, and on a small VM that
  // process would compete with the subscribers for the CPU while they run their hooks.
  boost::asio::awaitable<std::optional<lambda::FunctionError>> run_bus_step(
      lifecycle::Step step, std::chrono::milliseconds timeout, std::optional<lifecycle::JoinCondition> join,
      std::string first_line = {});
  boost::asio::awaitable<std::optional<lambda::FunctionError>> post_app_hook(std::string path, std::string_view type,
                                                                             std::chrono::milliseconds timeout);

  Publisher& publisher_;
  const AdapterConfig& config_;
  std::chrono::steady_clock::time_point adapter_started_;
  boost::asio::any_io_executor executor_;
  AdapterLog log_;
  BusStepRunner run_aside_;
  // After-restore with LWA's POST to follow: the step's closing lines wait in held_lines_ and go out
  // with the POST's line.
  bool hold_step_lines_ = false;
  std::string held_lines_;
  // Who before-snapshot's report named, and when it was published (clock ticks since boot, as a
  // process's start time): a subscriber of the restore that is not one of them, and whose process
  // is older, joined too late for its before-snapshot hooks.
  struct SnapshotSubscribers {
    std::vector<pid_t> pids;
    std::uint64_t published_at_ticks = 0;
  };
  std::optional<SnapshotSubscribers> before_snapshot_;
};

}  // namespace snapbus::adapter
