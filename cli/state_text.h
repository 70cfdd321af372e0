// How the lifecycle state and subscriber slots read as text in `snapbus status`, `watch` and
// `publish`.
//
//   out << snapbus::cli::state_line(state) << '\n';
//   // seq 6  generation 1  phase after-restore  source manual  restore-id 9f3a...  publisher 4242
//
// Shared by the human output and the JSON output (restore id and time spellings).
#pragma once

#include <cstdint>
#include <string>

#include "snapbus/seqlock.h"
#include "snapbus/slot_table.h"

namespace snapbus::cli {

// The 128-bit restore id as 32 lowercase hex digits, high word first.
std::string restore_id_hex(std::uint64_t high, std::uint64_t low);
// UTC, millisecond precision: "2026-11-26T23:14:53.123Z"; "" for 0 (never happened).
std::string wall_time_text(std::uint64_t wall_ns);
// True when a slot that acked `acked_seq` has handled `seq` (serial-number comparison: a later
// ack covers an earlier change).
bool has_acked(std::uint32_t acked_seq, std::uint32_t seq) noexcept;
// True when a slot is done with what `state` asks of it. In a hook phase that is its ack of the
// current seq. A quiet phase (starting, snapshot-ready, running) runs no hook and a hook runner may
// sleep through it (layout.h, kWakeHookPhasesOnly), acking it only when it next wakes: there it is
// having run the current generation's after-restore hooks.
bool is_current(const SlotInfo& slot, const StateSnapshot& state) noexcept;

// One line: seq, generation, phase, source, restore id, publisher pid.
std::string state_line(const StateSnapshot& state);
// One line per subscriber: pid, alive, name, acked seq ("(behind)" unless `current`), generation,
// outcome, hooks, message.
std::string slot_line(const SlotInfo& slot, bool current);

}  // namespace snapbus::cli
