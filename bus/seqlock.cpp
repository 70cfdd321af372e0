#include "snapbus/seqlock.h"

#include <sched.h>

#include "snapbus/error.h"

namespace snapbus {
namespace {

void load_fields(const StateRecord& s, StateSnapshot& out) noexcept {
  out.phase = static_cast<Phase>(s.phase.load(std::memory_order_relaxed));
  out.init_type = static_cast<InitType>(s.init_type.load(std::memory_order_relaxed));
  out.source = static_cast<TransitionSource>(s.source.load(std::memory_order_relaxed));
  out.generation = s.generation.load(std::memory_order_relaxed);
  out.restore_id_high = s.restore_id_high.load(std::memory_order_relaxed);
  out.restore_id_low = s.restore_id_low.load(std::memory_order_relaxed);
  out.snapshot_wall_ns = s.snapshot_wall_ns.load(std::memory_order_relaxed);
  out.snapshot_mono_ns = s.snapshot_mono_ns.load(std::memory_order_relaxed);
  out.restore_wall_ns = s.restore_wall_ns.load(std::memory_order_relaxed);
  out.restore_mono_ns = s.restore_mono_ns.load(std::memory_order_relaxed);
  out.changed_wall_ns = s.changed_wall_ns.load(std::memory_order_relaxed);
  out.publisher_pid = s.publisher_pid.load(std::memory_order_relaxed);
}

void store_fields(StateRecord& s, const StateSnapshot& in) noexcept {
  s.phase.store(static_cast<std::uint16_t>(in.phase), std::memory_order_relaxed);
  s.init_type.store(static_cast<std::uint16_t>(in.init_type), std::memory_order_relaxed);
  s.source.store(static_cast<std::uint16_t>(in.source), std::memory_order_relaxed);
  s.restore_id_high.store(in.restore_id_high, std::memory_order_relaxed);
  s.restore_id_low.store(in.restore_id_low, std::memory_order_relaxed);
  s.snapshot_wall_ns.store(in.snapshot_wall_ns, std::memory_order_relaxed);
  s.snapshot_mono_ns.store(in.snapshot_mono_ns, std::memory_order_relaxed);
  s.restore_wall_ns.store(in.restore_wall_ns, std::memory_order_relaxed);
  s.restore_mono_ns.store(in.restore_mono_ns, std::memory_order_relaxed);
  s.changed_wall_ns.store(in.changed_wall_ns, std::memory_order_relaxed);
  s.publisher_pid.store(in.publisher_pid, std::memory_order_relaxed);
  // generation is the hot-path word read without the seqlock: release it so a reader that sees the
  // new generation also sees the fields stored before it.
  s.generation.store(in.generation, std::memory_order_release);
}

}  // namespace

std::optional<StateSnapshot> try_read_state(const StateRecord& state) noexcept {
  StateSnapshot out;
  const std::uint32_t before = state.seq.load(std::memory_order_acquire);
  if (before & 1U) return std::nullopt;
  load_fields(state, out);
  std::atomic_thread_fence(std::memory_order_acquire);
  const std::uint32_t after = state.seq.load(std::memory_order_relaxed);
  if (before != after) return std::nullopt;
  out.seq = before;
  return out;
}

StateSnapshot read_state(const StateRecord& state, std::chrono::milliseconds patience) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  for (unsigned attempt = 0;; ++attempt) {
    if (auto snapshot = try_read_state(state)) return *snapshot;
    // A write takes nanoseconds; only check the clock once spinning has clearly not helped.
    if (attempt >= 64) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw Error(Errc::timed_out,
                    "segment state stays mid-write (odd seq): its publisher died while writing; "
                    "a new publisher repairs it on take-over");
      }
      sched_yield();
    }
  }
}

std::uint32_t write_state(StateRecord& state, const StateSnapshot& next) noexcept {
  const std::uint32_t seq = state.seq.load(std::memory_order_relaxed);
  state.seq.store(seq + 1, std::memory_order_relaxed);
  // Orders the odd seq before every field store (the release half of Boehm's writer).
  std::atomic_thread_fence(std::memory_order_release);
  store_fields(state, next);
  state.seq.store(seq + 2, std::memory_order_release);
  return seq + 2;
}

std::uint32_t repair_seq(StateRecord& state) noexcept {
  const std::uint32_t seq = state.seq.load(std::memory_order_relaxed);
  if ((seq & 1U) == 0) return seq;
  state.seq.store(seq + 1, std::memory_order_release);
  return seq + 1;
}

}  // namespace snapbus
