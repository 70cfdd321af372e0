#include "cli_publish.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <ostream>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli_arguments.h"
#include "cli_exit_code.h"
#include "snapbus/error.h"
#include "snapbus/publisher.h"
#include "snapbus/slot_table.h"
#include "state_json.h"
#include "state_text.h"

namespace snapbus::cli {

const char* const kPublishHelp =
    "usage: snapbus publish <starting|before-snapshot|restore|running|shutdown> [--timeout-ms N]\n"
    "                       [--segment PATH] [--json]\n"
    "\n"
    "Takes the publisher role for this run (creates the segment if missing; takes over one whose\n"
    "publisher died), applies the transition, and waits for every live subscriber that asked to\n"
    "be waited for:\n"
    "  starting         enter starting: a custom runtime's first step, so the segment exists\n"
    "                   before its workers start and every one of them sees the whole bracket\n"
    "  before-snapshot  enter before-snapshot; all acked ok -> snapshot-ready\n"
    "  restore          enter after-restore (generation + 1, fresh restore id); all ok -> running\n"
    "  running          enter running\n"
    "  shutdown         enter shutting-down (best effort, bounded by the timeout)\n"
    "Prints who acked and what failed. On a failed, missing or dead subscriber the phase stays.\n"
    "\n"
    "  --timeout-ms N  how long to wait for acknowledgements (default: $SNAPBUS_ACK_TIMEOUT_MS,\n"
    "                  else 5000)\n"
    "  --segment PATH  the segment file (default: $SNAPBUS_SEGMENT, else /tmp/snapbus.seg)\n"
    "  --expect-subscribers N\n"
    "                  first wait (within the timeout) until N subscribers that want to be waited\n"
    "                  for hold slots: a worker still starting up at the snapshot would otherwise\n"
    "                  miss the bracket. Not reached: exit 1 without publishing\n"
    "  --json          one JSON object: {segment, published, waited_for, acks: [...], ok, state}\n"
    "\n"
    "exit codes: 0 all acked ok, 1 a hook failed or an ack is missing (a subscriber died or timed\n"
    "out), 2 bad usage, 4 another live publisher owns the segment, 5 other error\n";

namespace {

using namespace std::chrono_literals;

constexpr FlagSpec kPublishFlags[] = {
    {"--json", false}, {"--segment", true}, {"--timeout-ms", true}, {"--expect-subscribers", true},
    {"--help", false}};

// How often the slot table is looked at while --expect-subscribers waits: claiming a slot wakes
// nobody, and this wait happens once, at start-up.
constexpr auto kJoinPollInterval = 5ms;

// How often progress is printed while subscribers are still running their hooks.
constexpr auto kProgressInterval = 1s;

std::string subscriber_label(const SlotInfo& slot) {
  return fmt::format("pid {} ({})", slot.owner.pid, slot.name.empty() ? "-" : slot.name);
}

std::size_t count_waited_for(const Segment& segment) {
  const std::vector<SlotInfo> slots = read_slots(segment);
  return static_cast<std::size_t>(
      std::count_if(slots.begin(), slots.end(), [](const SlotInfo& slot) { return slot.wait_for_ack && slot.alive; }));
}

// Waits in slices so progress can be printed, keeping every settled entry: a subscriber that died
// (its slot reaped) or acked and exited in an early slice is still reported at the end.
AckReport wait_with_progress(Publisher& publisher, std::uint32_t seq, std::chrono::milliseconds timeout,
                             std::ostream& progress) {
  const auto deadline = deadline_after(timeout);
  std::map<std::pair<std::uint32_t, pid_t>, AckEntry> settled;
  for (;;) {
    AckReport slice = publisher.wait_for_acks(seq, std::min(deadline, FutexClock::now() + kProgressInterval));
    std::vector<std::string> missing;
    AckReport merged{.seq = seq, .entries = {}};
    for (AckEntry& entry : slice.entries) {
      if (entry.status == AckStatus::missing) {
        missing.push_back(subscriber_label(entry.slot));
        merged.entries.push_back(std::move(entry));
      } else {
        settled[{entry.slot.index, entry.slot.owner.pid}] = std::move(entry);
      }
    }
    if (missing.empty() || FutexClock::now() >= deadline) {
      for (auto& [key, entry] : settled) merged.entries.push_back(std::move(entry));
      std::sort(merged.entries.begin(), merged.entries.end(),
                [](const AckEntry& a, const AckEntry& b) { return a.slot.index < b.slot.index; });
      return merged;
    }
    progress << "still waiting for " << missing.size() << ": " << fmt::format("{}", fmt::join(missing, ", "))
             << std::endl;
  }
}

std::string entry_line(const AckEntry& entry, std::chrono::milliseconds timeout) {
  const std::string who = subscriber_label(entry.slot);
  switch (entry.status) {
    case AckStatus::acked:
      return fmt::format("  acked    {}: ok ({} {} run)", who, entry.slot.hooks_run,
                         entry.slot.hooks_run == 1 ? "hook" : "hooks");
    case AckStatus::failed:
      return fmt::format("  FAILED   {}: {} of {} hooks failed: {}", who, entry.slot.hooks_failed,
                         entry.slot.hooks_run, entry.slot.message);
    case AckStatus::missing:
      return fmt::format("  MISSING  {}: no acknowledgement within {} ms", who, timeout.count());
    case AckStatus::died:
      return fmt::format("  DIED     {}: the process died before acknowledging; its slot was reaped", who);
    case AckStatus::left:
      return fmt::format("  left     {}: runs another program now (exec after fork); its slot was reaped", who);
  }
  return fmt::format("  {}  {}", ack_status_name(entry.status), who);
}

}  // namespace

PublishPlan publish_plan(std::string_view request) {
  if (request == "starting") return {Phase::starting, std::nullopt};
  if (request == "before-snapshot") return {Phase::before_snapshot, Phase::snapshot_ready};
  if (request == "restore") return {Phase::after_restore, Phase::running};
  if (request == "running") return {Phase::running, std::nullopt};
  if (request == "shutdown") return {Phase::shutting_down, std::nullopt};
  throw UsageError("unknown phase '" + std::string(request) +
                   "' (expected starting, before-snapshot, restore, running or shutdown)");
}

int run_publish(std::span<const std::string> args, const Config& config, std::ostream& out, std::ostream& err) {
  const Arguments parsed = parse_arguments(args, kPublishFlags);
  if (parsed.has("--help")) {
    out << kPublishHelp;
    return kExitOk;
  }
  if (parsed.operands().size() != 1) throw UsageError("expected exactly one phase");
  const PublishPlan plan = publish_plan(parsed.operands().front());
  const std::filesystem::path path = parsed.value("--segment").value_or(config.segment_path.string());
  const std::chrono::milliseconds timeout =
      parsed.has("--timeout-ms") ? std::chrono::milliseconds(*parsed.integer("--timeout-ms")) : config.ack_timeout;
  // Every argument is checked before the segment is touched: a bad one must not create or take it.
  const std::optional<std::int64_t> expected = parsed.integer("--expect-subscribers");
  const bool json = parsed.has("--json");
  // With --json, stdout carries only the JSON object; progress goes to stderr.
  std::ostream& progress = json ? err : out;

  std::optional<Publisher> publisher;
  try {
    publisher.emplace(Publisher::acquire({.path = path,
                                          .slot_count = config.slot_count,
                                          .group = config.segment_group,
                                          .init_type = init_type_from_lambda(config.lambda_init_type),
                                          .source = TransitionSource::manual}));
  } catch (const Error& error) {
    if (error.code() != Errc::busy) throw;
    throw Error(Errc::busy, std::string("refusing to publish: ") + error.what());
  }
  if (publisher->took_over()) progress << "took over the segment at " << path.string() << std::endl;

  if (expected) {
    const auto deadline = deadline_after(timeout);
    std::size_t joined = count_waited_for(publisher->segment());
    while (joined < static_cast<std::size_t>(*expected) && FutexClock::now() < deadline) {
      std::this_thread::sleep_for(kJoinPollInterval);
      joined = count_waited_for(publisher->segment());
    }
    if (joined < static_cast<std::size_t>(*expected)) {
      err << "snapbus publish: only " << joined << " of " << *expected << " expected subscribers joined within "
          << timeout.count() << " ms; not publishing" << std::endl;
      return kExitNotAcknowledged;
    }
  }

  const StateSnapshot published = publisher->transition(plan.phase);
  const std::size_t waited_for = count_waited_for(publisher->segment());
  progress << "published " << phase_name(published.phase) << " (seq " << published.seq << ", generation "
           << published.generation << ")";
  if (waited_for == 0) {
    progress << "; no subscribers to wait for" << std::endl;
  } else {
    progress << "; waiting for " << waited_for << (waited_for == 1 ? " subscriber" : " subscribers")
             << "..." << std::endl;
  }

  const AckReport report = wait_with_progress(*publisher, published.seq, timeout, progress);
  const bool all_ok = report.all_ok();
  StateSnapshot final_state = published;
  if (all_ok && plan.after_all_acked) final_state = publisher->transition(*plan.after_all_acked);

  if (json) {
    boost::json::array acks;
    for (const AckEntry& entry : report.entries) acks.push_back(ack_entry_to_json(entry, published.seq));
    const boost::json::object result{
        {"segment", path.string()},
        {"published", state_to_json(published)},
        {"waited_for", waited_for},
        {"acks", std::move(acks)},
        {"ok", all_ok},
        {"state", state_to_json(final_state)},
    };
    out << boost::json::serialize(result) << std::endl;
  } else {
    for (const AckEntry& entry : report.entries) out << entry_line(entry, timeout) << '\n';
    if (all_ok) {
      out << "ok: now " << phase_name(final_state.phase) << " (seq " << final_state.seq << ", generation "
          << final_state.generation << ")" << std::endl;
    } else {
      out << "not acknowledged: staying in " << phase_name(published.phase) << std::endl;
    }
  }
  return all_ok ? kExitOk : kExitNotAcknowledged;
}

}  // namespace snapbus::cli
