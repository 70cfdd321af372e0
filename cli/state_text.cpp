#include "state_text.h"

#include <fmt/format.h>

#include <ctime>

namespace snapbus::cli {

std::string restore_id_hex(std::uint64_t high, std::uint64_t low) { return fmt::format("{:016x}{:016x}", high, low); }

std::string wall_time_text(std::uint64_t wall_ns) {
  if (wall_ns == 0) return "";
  const auto seconds = static_cast<std::time_t>(wall_ns / 1'000'000'000U);
  const auto millis = (wall_ns / 1'000'000U) % 1000U;
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:03}Z", text, millis);
}

bool has_acked(std::uint32_t acked_seq, std::uint32_t seq) noexcept {
  return static_cast<std::int32_t>(acked_seq - seq) >= 0;
}

bool is_current(const SlotInfo& slot, const StateSnapshot& state) noexcept {
  if (has_acked(slot.acked_seq, state.seq)) return true;
  return !runs_hooks(state.phase) && slot.handled_generation >= state.generation;
}

std::string state_line(const StateSnapshot& state) {
  return fmt::format("seq {}  generation {}  phase {}  source {}  restore-id {}  publisher {}", state.seq,
                     state.generation, phase_name(state.phase), source_name(state.source),
                     restore_id_hex(state.restore_id_high, state.restore_id_low), state.publisher_pid);
}

std::string slot_line(const SlotInfo& slot, bool current) {
  std::string line =
      fmt::format("slot {:>3}  pid {:>7} {:<5}  {:<16}  acked seq {}{}  generation {}  {}  hooks {} run, {} failed",
                  slot.index, slot.owner.pid, slot.alive ? "alive" : "dead", slot.name.empty() ? "-" : slot.name,
                  slot.acked_seq, current ? "" : " (behind)", slot.handled_generation, outcome_name(slot.outcome),
                  slot.hooks_run, slot.hooks_failed);
  if (!slot.wait_for_ack) line += "  (not waited for)";
  if (slot.mid_write) line += "  (record mid-write: its owner stopped while writing it)";
  if (!slot.message.empty()) line += "  " + slot.message;
  return line;
}

}  // namespace snapbus::cli
