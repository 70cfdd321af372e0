// A seqlock over the StateRecord: one writer, any number of readers in any process.
//
//   snapbus::StateSnapshot now = snapbus::read_state(segment.state());    // consistent copy
//   snapbus::StateSnapshot next = now;
//   next.phase = snapbus::Phase::running;
//   std::uint32_t seq = snapbus::write_state(publisher_state, next);       // single writer only
//
// The protocol is Boehm's ("Can seqlocks get along with programming language memory models?",
// 2012): the writer makes seq odd, fences, stores the fields, then releases seq even; a reader
// acquires seq, loads the fields relaxed, fences (acquire) and re-checks seq. Every field is an
// atomic, so a torn read is detected by seq and never a data race.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "snapbus/layout.h"

namespace snapbus {

// A plain copy of every field of the state record, taken at one even seq.
struct StateSnapshot {
  std::uint32_t seq = 0;
  Phase phase = Phase::starting;
  InitType init_type = InitType::unknown;
  TransitionSource source = TransitionSource::none;
  std::uint64_t generation = 0;
  std::uint64_t restore_id_high = 0;
  std::uint64_t restore_id_low = 0;
  std::uint64_t snapshot_wall_ns = 0;
  std::uint64_t snapshot_mono_ns = 0;
  std::uint64_t restore_wall_ns = 0;
  std::uint64_t restore_mono_ns = 0;
  std::uint64_t changed_wall_ns = 0;
  std::uint32_t publisher_pid = 0;

  friend bool operator==(const StateSnapshot&, const StateSnapshot&) = default;
};

// One attempt: the snapshot if seq was even and unchanged across the copy, else nullopt.
std::optional<StateSnapshot> try_read_state(const StateRecord& state) noexcept;

// Retries try_read_state, yielding the CPU between attempts, until it succeeds or `patience` runs
// out. A seq that stays odd means the writer died mid-write; that throws Error(timed_out) so a
// reader never spins forever on a dead publisher (a new publisher repairs the seq on take-over).
StateSnapshot read_state(const StateRecord& state, std::chrono::milliseconds patience = std::chrono::milliseconds(500));

// Writes every field of `next` except seq, bumping seq by two (odd while writing). Returns the new
// even seq. Single writer: the caller holds the publisher role.
std::uint32_t write_state(StateRecord& state, const StateSnapshot& next) noexcept;

// Makes an odd seq (a writer that died mid-write) even again by completing the write with the
// fields as they are. Returns the new even seq. Single writer.
std::uint32_t repair_seq(StateRecord& state) noexcept;

}  // namespace snapbus
