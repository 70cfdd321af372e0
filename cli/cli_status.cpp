#include "cli_status.h"

#include <atomic>
#include <ostream>

#include <boost/json.hpp>

#include "snapbus/error.h"
#include "snapbus/publisher.h"
#include "snapbus/segment.h"
#include "state_json.h"
#include "state_text.h"

namespace snapbus::cli {

StatusRequest parse_status_command(std::span<const std::string> words, const Config& config) {
  const auto app =
      command_app("snapbus status",
                  "Shows the lifecycle state (generation, phase, seq, init type, restore id, times, source,\n"
                  "publisher pid and whether it is alive) and every subscriber slot (pid, alive, name, acked\n"
                  "seq, handled generation, outcome, hooks run/failed, message). Read-only: claims no slot.",
                  "exit codes: 0 ok, 2 bad usage, 3 no segment at PATH, 5 other error", 18);
  StatusRequest request;
  std::optional<std::filesystem::path> segment;
  add_json_flag(*app, request.format, "one JSON object: {segment, state, publisher, subscribers: [...]}");
  add_segment_option(*app, segment);
  parse_command_line(*app, words);
  request.segment_path = segment.value_or(config.segment_path);
  return request;
}

StatusReport read_status(const std::filesystem::path& segment_path, const Config& config) {
  std::optional<Segment> segment;
  try {
    segment.emplace(Segment::open(segment_path, SegmentAccess::observe, config.segment_group));
  } catch (const Error& error) {
    if (error.code() != Errc::not_found) throw;
    if (auto missing = check_segment_directory(segment_path)) throw *missing;
    throw Error(Errc::not_found, "no segment at " + segment_path.string() +
                                     ": no publisher has created one yet (the adapter or `snapbus publish` does)");
  }
  StatusReport report;
  report.segment_path = segment_path;
  report.state = read_state(segment->state());
  const SegmentHeader& header = segment->header();
  report.publisher.pid = static_cast<pid_t>(header.publisher_pid.load(std::memory_order_acquire));
  report.publisher.start_time = header.publisher_start_time.load(std::memory_order_acquire);
  // The lock holder, not the recorded pid: a restored publisher has a new start time, and a dead
  // one's pid may have been reused.
  const std::optional<pid_t> holder = publisher_lock_holder(segment_path);
  if (holder) report.publisher.pid = *holder;
  report.publisher_alive = holder.has_value();
  report.slots = read_slots(*segment);
  // A page that could not be read (a sparse file on a full filesystem, a truncation) read as zeros.
  if (auto damage = segment->damage()) throw *damage;
  return report;
}

void print_status_text(std::ostream& out, const StatusReport& report) {
  const StateSnapshot& state = report.state;
  auto time_or_never = [](std::uint64_t wall_ns) {
    const std::string text = wall_time_text(wall_ns);
    return text.empty() ? std::string("never") : text;
  };
  out << "segment     " << report.segment_path.string() << '\n'
      << "generation  " << state.generation << '\n'
      << "phase       " << phase_name(state.phase) << '\n'
      << "seq         " << state.seq << '\n'
      << "init type   " << init_type_name(state.init_type) << '\n'
      << "restore id  " << restore_id_hex(state.restore_id_high, state.restore_id_low) << '\n'
      << "snapshot    " << time_or_never(state.snapshot_wall_ns) << '\n'
      << "restore     " << time_or_never(state.restore_wall_ns) << '\n'
      << "changed     " << time_or_never(state.changed_wall_ns) << " (source " << source_name(state.source) << ")\n"
      << "publisher   pid " << report.publisher.pid << (report.publisher_alive ? " (alive)" : " (not running)") << '\n'
      << "subscribers " << report.slots.size() << '\n';
  for (const SlotInfo& slot : report.slots) out << "  " << slot_line(slot, is_current(slot, state)) << '\n';
}

void print_status_json(std::ostream& out, const StatusReport& report) {
  boost::json::array subscribers;
  for (const SlotInfo& slot : report.slots) subscribers.push_back(slot_to_json(slot, is_current(slot, report.state)));
  const boost::json::object status{
      {"segment", path_to_json(report.segment_path)},
      {"state", state_to_json(report.state)},
      {"publisher", publisher_to_json(report.publisher, report.publisher_alive)},
      {"subscribers", std::move(subscribers)},
  };
  out << boost::json::serialize(status) << '\n';
}

ExitCode run_status(const StatusRequest& request, const Config& config, std::ostream& out) {
  const StatusReport report = read_status(request.segment_path, config);
  if (request.format == OutputFormat::json) {
    print_status_json(out, report);
  } else {
    print_status_text(out, report);
  }
  return ExitCode::ok;
}

}  // namespace snapbus::cli
