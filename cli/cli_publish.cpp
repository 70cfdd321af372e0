#include "cli_publish.h"

#include <chrono>
#include <ostream>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "snapbus/error.h"
#include "snapbus/publisher.h"
#include "snapbus/segment.h"
#include "snapbus/step_failure.h"
#include "snapbus/step_progress.h"
#include "state_json.h"
#include "stop_signals.h"

namespace snapbus::cli {
namespace {

using lifecycle::describe_entries;

void print_json(std::ostream& out, const PublishRequest& request, const lifecycle::StepResult& result) {
  boost::json::array acks;
  for (const AckEntry& entry : result.report.entries) acks.push_back(ack_entry_to_json(entry, result.published->seq));
  const boost::json::object json{
      {"segment", path_to_json(request.segment_path)},
      {"published", state_to_json(*result.published)},
      {"waited_for", result.waited_for},
      {"acks", std::move(acks)},
      {"ok", result.ok()},
      {"interrupted", result.stopped_after.has_value()},
      {"state", state_to_json(result.final_state)},
  };
  out << boost::json::serialize(json) << std::endl;
}

void print_text(std::ostream& out, const lifecycle::StepResult& result, std::string_view stop_signal) {
  // Interrupted, a missing subscriber had only as long as the wait lasted.
  const std::chrono::milliseconds waited = result.stopped_after.value_or(result.ack_timeout);
  if (!result.report.entries.empty()) out << describe_entries(result.report, waited, "") << '\n';
  if (result.ok()) {
    out << "ok: now " << phase_name(result.final_state.phase) << " (seq " << result.final_state.seq << ", generation "
        << result.final_state.generation << ")" << std::endl;
  } else if (result.stopped_after) {
    out << "interrupted by " << stop_signal << " after " << waited.count() << " ms: staying in "
        << phase_name(result.published->phase) << std::endl;
  } else {
    out << "not acknowledged: staying in " << phase_name(result.published->phase) << std::endl;
  }
}

// The slots the segment will have once this run holds it: the one at the path's, or for a new one
// (none there yet, or --fresh) SNAPBUS_SLOTS. Read without taking the publisher role, so that a
// usage error leaves the segment as it was.
std::uint32_t slots_after_acquire(const PublishRequest& request, const Config& config) {
  if (request.fresh) return config.slot_count;
  try {
    return Segment::open(request.segment_path, SegmentAccess::observe, config.segment_group).slot_count();
  } catch (const Error&) {
    // Missing, or not a segment (acquire says which): a new one gets SNAPBUS_SLOTS.
    return config.slot_count;
  }
}

// Too few subscribers joined, so nothing was published: the JSON says so, with the state as it stays.
void print_json_not_published(std::ostream& out, const PublishRequest& request, const lifecycle::StepResult& result) {
  const boost::json::object json{
      {"segment", path_to_json(request.segment_path)},
      {"published", nullptr},
      {"waited_for", result.waited_for},
      {"joined", result.joined.count},
      {"acks", boost::json::array()},
      {"ok", false},
      {"interrupted", result.stopped_after.has_value()},
      {"state", state_to_json(result.final_state)},
  };
  out << boost::json::serialize(json) << std::endl;
}

// The exit code of a step that was not acknowledged: interrupted is not the subscribers' doing.
ExitCode not_ok_exit_code(const lifecycle::StepResult& result) {
  return result.stopped_after ? ExitCode::interrupted : ExitCode::not_acknowledged;
}

}  // namespace

PublishRequest parse_publish_command(std::span<const std::string> words, const Config& config) {
  const auto app =
      command_app("snapbus publish",
                  "Takes the publisher role for this run (creates the segment if missing; takes over one whose\n"
                  "publisher died), applies the transition, and waits for every live subscriber that asked to\n"
                  "be waited for:\n"
                  "  starting         enter starting: a custom runtime's first step, so the segment exists\n"
                  "                   before its workers start and every one of them sees the whole bracket\n"
                  "  before-snapshot  enter before-snapshot; all acked ok -> snapshot-ready\n"
                  "  restore          enter after-restore (generation + 1, fresh restore id); all ok -> running\n"
                  "  running          enter running\n"
                  "  shutdown         enter shutting-down (best effort, bounded by the timeout)\n"
                  "Prints who acked and what failed. On a failed, missing or dead subscriber the phase stays.",
                  "exit codes: 0 all acked ok, 1 a hook failed or an ack is missing (a subscriber died or timed\n"
                  "out), 2 bad usage, 4 another live publisher owns the segment, 5 other error, 130 SIGINT or\n"
                  "SIGTERM ended the wait early (after printing who acked)",
                  18);
  std::string phase;
  std::optional<std::filesystem::path> segment;
  std::optional<std::int64_t> timeout_ms;
  std::optional<std::int64_t> expected;
  PublishRequest request;
  app->add_option("phase", phase)->required()->option_text("starting|before-snapshot|restore|running|shutdown");
  add_number_option(*app, "--timeout-ms", timeout_ms,
                    "how long to wait for acknowledgements, and for --expect-subscribers\n"
                    "before them: one limit for both (default: $SNAPBUS_ACK_TIMEOUT_MS, else 5000)");
  add_segment_option(*app, segment);
  add_number_option(*app, "--expect-subscribers", expected,
                    "first wait (within the timeout) until N subscribers that want to be waited\n"
                    "for hold slots: a worker still starting up at the snapshot would otherwise\n"
                    "miss the bracket. Not reached: exit 1 without publishing");
  app->add_flag("--fresh", request.fresh,
                "with starting only: a new segment (generation 0, no slots) replaces one an\n"
                "earlier run left at the path, as at a Lambda environment's first step,\n"
                "where /tmp starts empty. Without it a leftover segment is taken over");
  add_json_flag(*app, request.format,
                "one JSON object: {segment, published, waited_for, acks: [...], ok, interrupted, state};\n"
                "when too few subscribers joined, published is null and joined says how many did");
  parse_command_line(*app, words);

  const std::optional<lifecycle::Step> step = lifecycle::step_from_name(phase);
  if (!step) {
    throw UsageError("unknown phase '" + phase +
                     "' (expected starting, before-snapshot, restore, running or shutdown)");
  }
  request.step = *step;
  if (request.fresh && request.step != lifecycle::Step::starting) {
    throw UsageError(
        "--fresh goes with starting only: a new segment at any later step would drop the "
        "subscribers that joined the current one");
  }
  request.segment_path = segment.value_or(config.segment_path);
  // Clamped here, so that what the progress and the report say is the wait there is.
  request.timeout = std::min(timeout_ms ? std::chrono::milliseconds(*timeout_ms) : config.ack_timeout, kLongestWait);
  if (expected) request.expect_subscribers = static_cast<std::size_t>(*expected);
  return request;
}

ExitCode run_publish(const PublishRequest& request, const Config& config, std::ostream& out, std::ostream& err) {
  // With --json, stdout carries only the JSON object; progress goes to stderr.
  std::ostream& progress = request.format == OutputFormat::json ? err : out;

  // More than the segment's slots can never join: say so now, before the segment is touched.
  if (const std::uint32_t slots = slots_after_acquire(request, config);
      request.expect_subscribers && *request.expect_subscribers > slots) {
    err << "snapbus publish: --expect-subscribers " << *request.expect_subscribers << " is more than the " << slots
        << " slots of " << request.segment_path.string() << " (" << kEnvSlots << " sets them when it is created)"
        << std::endl;
    return ExitCode::usage;
  }

  std::optional<Publisher> publisher;
  try {
    publisher.emplace(Publisher::acquire({.path = request.segment_path,
                                          .slot_count = config.slot_count,
                                          .group = config.segment_group,
                                          .init_type = init_type_from_lambda(config.lambda_init_type),
                                          .source = TransitionSource::manual,
                                          .fresh = request.fresh}));
  } catch (const Error& error) {
    if (error.code() != Errc::busy) throw;
    throw Error(Errc::busy, std::string("refusing to publish: ") + error.what());
  }
  if (publisher->took_over()) progress << "took over the segment at " << request.segment_path.string() << std::endl;
  if (publisher->replaced()) {
    progress << "created a new segment at " << request.segment_path.string()
             << ", replacing the segment an earlier run left there" << std::endl;
  }

  // Back to running without a restore, from a bracket that failed or was given up: the subscribers
  // closed what their before-snapshot hooks close, and running runs no hook to reopen it.
  if (const Phase from = publisher->state().phase;
      request.step == lifecycle::Step::running && (from == Phase::before_snapshot || from == Phase::snapshot_ready)) {
    err << "snapbus publish: note: from " << phase_name(from)
        << ", running runs no hook: what the subscribers' before-snapshot hooks closed stays closed; `snapbus "
           "publish restore` runs their after-restore hooks (as CRaC runs afterRestore after a failed checkpoint)"
        << std::endl;
  }

  // Ctrl-C while waiting still prints who acked and who did not, as the end of the timeout would.
  const StopSignals stop_signals;
  lifecycle::StepOptions options{.ack_timeout = request.timeout, .stop = stop_signals.flag()};
  if (request.expect_subscribers) {
    options.join = lifecycle::JoinCondition{.at_least = *request.expect_subscribers};
    progress << "waiting for " << *request.expect_subscribers
             << (*request.expect_subscribers == 1 ? " subscriber" : " subscribers") << " to join (up to "
             << request.timeout.count() << " ms)..." << std::endl;
  }
  lifecycle::StepLines printer([&progress](std::string_view line) { progress << line << std::endl; });
  const lifecycle::StepResult result = lifecycle::run_step(*publisher, request.step, options, printer);

  if (result.outcome == lifecycle::StepOutcome::too_few_joined) {
    err << "snapbus publish: " << lifecycle::describe_join_shortfall(result) << "; not publishing" << std::endl;
    // The same last line as a wait for acknowledgements that a signal ended (print_text).
    if (result.stopped_after) {
      err << "interrupted by " << stop_signals.caught_name() << " after " << result.stopped_after->count()
          << " ms: staying in " << phase_name(result.final_state.phase) << std::endl;
    }
    if (request.format == OutputFormat::json) print_json_not_published(out, request, result);
    return not_ok_exit_code(result);
  }
  if (request.format == OutputFormat::json) {
    print_json(out, request, result);
  } else {
    print_text(out, result, stop_signals.caught_name());
  }
  return result.ok() ? ExitCode::ok : not_ok_exit_code(result);
}

}  // namespace snapbus::cli
