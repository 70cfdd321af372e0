#include "snapbus/seqlock.h"

#include <sched.h>

#include "snapbus/error.h"

namespace snapbus {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

void load_fields(const StateRecord& s, StateSnapshot& out) noexcept {
  out.phase = static_cast<Phase>(s.phase.load(kRelaxed));
  out.init_type = static_cast<InitType>(s.init_type.load(kRelaxed));
  out.source = static_cast<TransitionSource>(s.source.load(kRelaxed));
  out.generation = s.generation.load(kRelaxed);
  out.restore_id_high = s.restore_id_high.load(kRelaxed);
  out.restore_id_low = s.restore_id_low.load(kRelaxed);
  out.snapshot_wall_ns = s.snapshot_wall_ns.load(kRelaxed);
  out.snapshot_mono_ns = s.snapshot_mono_ns.load(kRelaxed);
  out.restore_wall_ns = s.restore_wall_ns.load(kRelaxed);
  out.restore_mono_ns = s.restore_mono_ns.load(kRelaxed);
  out.changed_wall_ns = s.changed_wall_ns.load(kRelaxed);
  out.publisher_pid = s.publisher_pid.load(kRelaxed);
}

void store_fields(StateRecord& s, const StateSnapshot& in) noexcept {
  s.phase.store(static_cast<std::uint16_t>(in.phase), kRelaxed);
  s.init_type.store(static_cast<std::uint16_t>(in.init_type), kRelaxed);
  s.source.store(static_cast<std::uint16_t>(in.source), kRelaxed);
  s.restore_id_high.store(in.restore_id_high, kRelaxed);
  s.restore_id_low.store(in.restore_id_low, kRelaxed);
  s.snapshot_wall_ns.store(in.snapshot_wall_ns, kRelaxed);
  s.snapshot_mono_ns.store(in.snapshot_mono_ns, kRelaxed);
  s.restore_wall_ns.store(in.restore_wall_ns, kRelaxed);
  s.restore_mono_ns.store(in.restore_mono_ns, kRelaxed);
  s.changed_wall_ns.store(in.changed_wall_ns, kRelaxed);
  s.publisher_pid.store(in.publisher_pid, kRelaxed);
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
  const std::uint32_t after = state.seq.load(kRelaxed);
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
  const std::uint32_t seq = state.seq.load(kRelaxed);
  state.seq.store(seq + 1, kRelaxed);
  // Orders the odd seq before every field store (the release half of Boehm's writer).
  std::atomic_thread_fence(std::memory_order_release);
  store_fields(state, next);
  state.seq.store(seq + 2, std::memory_order_release);
  return seq + 2;
}

std::uint32_t repair_seq(StateRecord& state) noexcept {
  const std::uint32_t seq = state.seq.load(kRelaxed);
  if ((seq & 1U) == 0) return seq;
  state.seq.store(seq + 1, std::memory_order_release);
  return seq + 1;
}

}  // namespace snapbus
