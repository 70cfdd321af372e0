#include "snapstart_bracket.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "adapter_process.h"
#include "snapbus/http_client.h"
#include "snapbus/step_failure.h"
#include "snapbus/step_progress.h"

namespace snapbus::adapter {

namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

namespace {

// A phase's error type: what Lambda's own runtimes send when a hook of that phase fails.
std::string_view error_type_for(lifecycle::Step step) {
  return step == lifecycle::Step::before_snapshot ? lifecycle::kBeforeSnapshotErrorType
                                                  : lifecycle::kAfterRestoreErrorType;
}

// What is left of a phase's limit, rounded up (a step that starts at once is told the limit as
// configured), and at least 1 ms: a step given none fails at once, as missing.
std::chrono::milliseconds time_left(Clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(1), std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()));
}

// Why workers may be missing, in web mode: the usual cause is a run.sh that sets a PYTHONPATH
// without the layer's /opt/python, which drops zero-code mode silently.
std::string missing_subscribers_hint(const AdapterConfig& config) {
  if (config.mode != AdapterMode::web) return "";
  return " (a Python worker subscribes at its first hook registration; in zero-code mode that needs the layer's "
         "/opt/python, which /opt/bootstrap puts on PYTHONPATH: a run.sh that sets PYTHONPATH must keep it, "
         "PYTHONPATH=$PYTHONPATH:... or PYTHONPATH=/opt/python:...)";
}

// Now, in the unit of a process's start time in /proc/<pid>/stat: clock ticks since boot.
std::uint64_t boot_ticks_now() {
  timespec now{};
  ::clock_gettime(CLOCK_BOOTTIME, &now);
  const auto hz = static_cast<std::uint64_t>(::sysconf(_SC_CLK_TCK));
  return static_cast<std::uint64_t>(now.tv_sec) * hz + static_cast<std::uint64_t>(now.tv_nsec) * hz / 1'000'000'000;
}

constexpr std::string_view kSetTheCount =
    "a worker slower than the settle time: set SNAPBUS_EXPECT_SUBSCRIBERS to the number of workers";

// Subscribers in before-snapshot's report that joined while it was under way (a fresh slot, never
// acknowledged: its before-snapshot hooks did not run), each said in a line. A child the hooks
// forked is born acknowledging the change, and is not one of them.
std::vector<std::string> joined_during_before_snapshot(const AckReport& report) {
  std::vector<std::string> lines;
  for (const AckEntry& entry : report.entries) {
    if (entry.status != AckStatus::acked || entry.slot.outcome != AckOutcome::none) continue;
    lines.push_back(
        fmt::format("{} subscribed while before-snapshot was under way: its before-snapshot hooks did "
                    "not run ({})",
                    lifecycle::subscriber_label(entry.slot), kSetTheCount));
  }
  return lines;
}

// The restore step's subscribers that were not in before-snapshot's report although their process
// had started before before-snapshot was published: they subscribed too late for its hooks. One
// started later is a new process (a worker respawned), which had none to run.
std::vector<std::string> joined_after_before_snapshot(const AckReport& restore, const std::vector<pid_t>& known,
                                                      std::uint64_t published_at_ticks) {
  std::vector<std::string> lines;
  for (const AckEntry& entry : restore.entries) {
    if (std::find(known.begin(), known.end(), entry.slot.owner.pid) != known.end()) continue;
    if (entry.slot.owner.start_time == 0 || entry.slot.owner.start_time > published_at_ticks) continue;
    lines.push_back(
        fmt::format("{} started before before-snapshot was published but subscribed after it: its "
                    "before-snapshot hooks did not run ({})",
                    lifecycle::subscriber_label(entry.slot), kSetTheCount));
  }
  return lines;
}

}  // namespace

lifecycle::JoinCondition join_condition_for(const AdapterConfig& config) {
  if (config.expect_subscribers) return {.at_least = *config.expect_subscribers};
  return {.at_least = 0, .stable_for = config.subscriber_settle};
}

SnapStartBracket::SnapStartBracket(Publisher& publisher, const AdapterConfig& config,
                                   std::chrono::steady_clock::time_point adapter_started,
                                   boost::asio::any_io_executor executor, AdapterLog log, BusStepRunner run_aside)
    : publisher_(publisher),
      config_(config),
      adapter_started_(adapter_started),
      executor_(std::move(executor)),
      log_(std::move(log)),
      run_aside_(std::move(run_aside)) {}

boost::asio::awaitable<std::optional<lambda::FunctionError>> SnapStartBracket::before_snapshot() {
  const lifecycle::JoinCondition join = join_condition_for(config_);
  // One limit for the phase: the app's POST and the bus step share it.
  Clock::time_point deadline;
  std::string limit;
  if (config_.before_snapshot_timeout) {
    deadline = Clock::now() + *config_.before_snapshot_timeout;
    limit = fmt::format("within {} ms (SNAPBUS_BEFORE_SNAPSHOT_TIMEOUT_MS)", config_.before_snapshot_timeout->count());
  } else {
    deadline = adapter_started_ + kSnapStartInitAllowance - kInitReportMargin;
    limit = fmt::format("within {} ms (what is left of Lambda's {} s SnapStart Init, less {} s to report)",
                        time_left(deadline).count(), kSnapStartInitAllowance.count(), kInitReportMargin.count());
  }
  if (config_.expect_subscribers) {
    log_(fmt::format("before-snapshot: waiting for {} subscriber{} (SNAPBUS_EXPECT_SUBSCRIBERS), then their hooks, {}",
                     join.at_least, join.at_least == 1 ? "" : "s", limit));
  } else {
    log_(fmt::format("before-snapshot: waiting until no new subscriber has come for {} ms, then their hooks, {}",
                     join.stable_for.count(), limit));
  }
  if (!config_.snapstart_before_checkpoint_path.empty()) {
    auto failure = co_await post_app_hook(config_.snapstart_before_checkpoint_path, lifecycle::kBeforeSnapshotErrorType,
                                          time_left(deadline));
    if (failure) co_return failure;
  }
  co_return co_await run_bus_step(lifecycle::Step::before_snapshot, time_left(deadline), join);
}

boost::asio::awaitable<std::optional<lambda::FunctionError>> SnapStartBracket::after_restore(std::string first_line) {
  // One limit for the phase, as Lambda's 10 s is for the whole restore: past it Lambda ends the
  // restore itself, and the restore/error that names the hook would never be sent.
  const auto deadline = Clock::now() + config_.after_restore_timeout;
  const bool posts = !config_.snapstart_after_restore_path.empty();
  // The step's lines wait for the POST's: written before it, they would wake the log's reader while
  // the app answers it, as they would while the subscribers run their hooks.
  hold_step_lines_ = posts;
  auto failure =
      co_await run_bus_step(lifecycle::Step::restore, time_left(deadline), std::nullopt, std::move(first_line));
  hold_step_lines_ = false;
  if (!failure && posts) {
    failure = co_await post_app_hook(config_.snapstart_after_restore_path, lifecycle::kAfterRestoreErrorType,
                                     time_left(deadline));
  }
  // Still held when the step failed, or the POST failed before its line.
  if (!held_lines_.empty()) log_(std::exchange(held_lines_, {}));
  co_return failure;
}

// On the adapter's one thread, blocking it, unless run aside: no invocation can arrive before the
// runtime asks for one, and the wait is bounded by `timeout`, but a shutdown could not be heard.
boost::asio::awaitable<std::optional<lambda::FunctionError>> SnapStartBracket::run_bus_step(
    lifecycle::Step step, std::chrono::milliseconds timeout, std::optional<lifecycle::JoinCondition> join,
    std::string first_line) {
  const std::string_view name = lifecycle::step_name(step);
  std::vector<std::string> block;
  if (!first_line.empty()) block.push_back(std::move(first_line));
  lifecycle::StepLines lines(
      [this, name, &block](std::string_view line) {
        // A slow step's progress: what was held goes out with it.
        block.push_back(fmt::format("{}: {}", name, line));
        log_(fmt::format("{}", fmt::join(block, "\n")));
        block.clear();
      },
      lifecycle::PublishedLine::held);
  const auto started = Clock::now();
  // Before before-snapshot: a process that started later than this had no before-snapshot hook to run.
  const std::uint64_t published_at_ticks = step == lifecycle::Step::before_snapshot ? boot_ticks_now() : 0;
  lifecycle::StepResult result;
  const BusStep run = [&](const std::atomic<bool>* stop) {
    return lifecycle::run_step(publisher_, step, {.ack_timeout = timeout, .join = join, .stop = stop}, lines);
  };
  std::optional<Error> failed;
  try {
    if (run_aside_ && step == lifecycle::Step::before_snapshot) {
      auto aside = run_aside_(run);
      result = co_await std::move(aside);
    } else {
      result = run(nullptr);
    }
  } catch (const Error& error) {
    failed = error;
  }
  if (failed) {
    // The segment was damaged, deleted or replaced under the adapter: no hook can be known to have
    // run, so the step fails (no snapshot, or the restored copy is discarded). The log keeps how far
    // the step got.
    if (const std::string held = lines.take_held(); !held.empty()) block.push_back(fmt::format("{}: {}", name, held));
    block.push_back(fmt::format("{}: {}", name, failed->what()));
    log_(fmt::format("{}", fmt::join(block, "\n")));
    co_return lambda::FunctionError{.type = std::string(error_type_for(step)),
                                    .message = fmt::format("the {} step could not run: {}", name, failed->what())};
  }
  // Taken before the lines are written: the figure is the hooks' time, not the log's.
  const double took_ms = milliseconds_since(started);
  if (const std::string held = lines.take_held(); !held.empty()) block.push_back(fmt::format("{}: {}", name, held));
  if (const std::string acks =
          lifecycle::describe_entries(result.report, result.ack_timeout, fmt::format("{}: ", name));
      !acks.empty()) {
    block.push_back(acks);
  }
  std::vector<std::string> late;
  if (step == lifecycle::Step::before_snapshot && result.published) {
    late = joined_during_before_snapshot(result.report);
    before_snapshot_ = SnapshotSubscribers{.published_at_ticks = published_at_ticks};
    for (const AckEntry& entry : result.report.entries) before_snapshot_->pids.push_back(entry.slot.owner.pid);
  } else if (step == lifecycle::Step::restore && before_snapshot_) {
    late = joined_after_before_snapshot(result.report, before_snapshot_->pids, before_snapshot_->published_at_ticks);
  }
  for (const std::string& line : late) block.push_back(fmt::format("{}: {}", name, line));
  if (result.outcome == lifecycle::StepOutcome::all_acked) {
    // The acknowledgements listed above that ran hooks: those waited for, and any child a hook forked
    // (born acknowledging), but not a process that joined during the step, named on its own line.
    const auto acked = std::count_if(result.report.entries.begin(), result.report.entries.end(), [](const AckEntry& e) {
      return e.status == AckStatus::acked && e.slot.outcome != AckOutcome::none;
    });
    block.push_back(fmt::format("{}: {} {} acknowledged in {:.3f} ms", name, acked,
                                acked == 1 ? "subscriber" : "subscribers", took_ms));
    if (result.waited_for == 0 && step == lifecycle::Step::before_snapshot) {
      block.push_back(fmt::format("{}: no process subscribed, so no hook runs in the snapshot's processes{}", name,
                                  missing_subscribers_hint(config_)));
    }
  }
  if (!block.empty() && hold_step_lines_) {
    held_lines_ = fmt::format("{}", fmt::join(block, "\n"));
  } else if (!block.empty()) {
    log_(fmt::format("{}", fmt::join(block, "\n")));
  }
  switch (result.outcome) {
    case lifecycle::StepOutcome::all_acked: co_return std::nullopt;
    case lifecycle::StepOutcome::too_few_joined:
      if (result.stopped_after) {
        co_return lambda::FunctionError{.type = std::string(error_type_for(step)),
                                        .message = lifecycle::describe_join_shortfall(result) + " when it was stopped"};
      }
      // Workers that subscribed and died are the cause, not a missing import: no hint then.
      co_return lambda::FunctionError{
          .type = std::string(error_type_for(step)),
          .message = lifecycle::describe_join_shortfall(result) + "; not taking the snapshot without them" +
                     (result.joined.departed.empty() ? missing_subscribers_hint(config_) : "")};
    case lifecycle::StepOutcome::not_acknowledged: {
      lifecycle::LambdaError error = lifecycle::lambda_error_for(result);
      co_return lambda::FunctionError{.type = std::move(error.type), .message = std::move(error.message)};
    }
  }
  co_return lambda::FunctionError{.type = std::string(error_type_for(step)), .message = "unknown step outcome"};
}

// LWA 1.1's hook: one POST to one path of the app; anything but 2xx fails the phase. A client of
// its own, destroyed at the end, so its connection cannot outlive the snapshot.
boost::asio::awaitable<std::optional<lambda::FunctionError>> SnapStartBracket::post_app_hook(
    std::string path, std::string_view type, std::chrono::milliseconds timeout) {
  net::HttpClient client(executor_, {.host = config_.app_host, .port = std::to_string(config_.app_port)},
                         {.connect_timeout = timeout, .io_timeout = timeout, .max_idle_connections = 0});
  net::Request request{http::verb::post, path, 11};
  const auto started = Clock::now();
  auto answer = co_await client.request(std::move(request));
  if (!answer) {
    co_return lambda::FunctionError{.type = std::string(type),
                                    .message = fmt::format("POST {} to the app: {}", path, answer.error().message)};
  }
  const unsigned status = answer->result_int();
  std::string line = fmt::format("POST {}: {} in {:.3f} ms", path, status, milliseconds_since(started));
  // With what the step before it held back, in one write.
  if (!held_lines_.empty()) line = std::exchange(held_lines_, {}) + "\n" + line;
  log_(line);
  if (status < 200 || status > 299) {
    constexpr std::size_t kBodyShown = 200;
    const std::string& body = answer->body();
    co_return lambda::FunctionError{.type = std::string(type),
                                    .message = fmt::format("POST {} answered {}{}{}", path, status,
                                                           body.empty() ? "" : ": ", body.substr(0, kBodyShown))};
  }
  co_return std::nullopt;
}

}  // namespace snapbus::adapter
