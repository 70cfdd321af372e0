// The records that live in a segment file, as C++ sees them.
//
//   const snapbus::StateRecord& state = segment.state();
//   std::uint64_t gen = state.generation.load(std::memory_order_acquire);
//
// Plain records of atomics and integers, nothing else: no constructors run on them, no pointers,
// no virtuals. Their byte layout is the Cap'n Proto data section of the structs in
// bus/lifecycle.capnp; the static_asserts below pin every offset, and layout.cpp checks the
// record sizes against the generated code at compile time. Views (Publisher, Subscriber) hold
// references to these records; the records know nothing of them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace snapbus {

inline constexpr std::uint64_t kMagic = 0x3153554250414e53ULL;  // "SNAPBUS1" little-endian
inline constexpr std::uint32_t kLayoutVersion = 1;
inline constexpr std::uint32_t kPageBytes = 4096;
inline constexpr std::uint32_t kSlotBytes = 512;
inline constexpr std::uint32_t kSlotNameOffset = 48;
inline constexpr std::uint32_t kSlotNameBytes = 32;
inline constexpr std::uint32_t kSlotMessageOffset = 80;
inline constexpr std::uint32_t kSlotMessageBytes = 432;
inline constexpr std::uint32_t kDefaultSlotCount = 64;
inline constexpr std::uint32_t kMaxSlotCount = 4096;
inline constexpr std::uint32_t kSlotFlagWaitForAck = 1U << 0;

enum class Phase : std::uint16_t {
  starting = 0,
  before_snapshot = 1,
  snapshot_ready = 2,
  after_restore = 3,
  running = 4,
  shutting_down = 5,
};
inline constexpr std::uint16_t kPhaseCount = 6;

// Futex masks on the state's seq (futex.h). A hook runner waits with kWakeHookPhasesOnly: a change
// to a quiet phase (starting, snapshot-ready, running) runs no hook, and waking every worker again
// just after they acked a restore would put them in the first request's way on a small VM. Any
// other waiter, and plain FUTEX_WAIT, takes every wake. Every other change (a hook phase, a
// publisher taking over) wakes everyone.
inline constexpr std::uint32_t kWakeHookPhasesOnly = 1U << 0;
inline constexpr std::uint32_t kWakeQuietPhase = ~kWakeHookPhasesOnly;
inline constexpr std::uint32_t kWakeEveryWaiter = 0xffffffffU;

// Whether a phase runs subscribers' hooks (before-snapshot, after-restore, shutting-down).
bool runs_hooks(Phase phase) noexcept;
// The mask a change to `phase` wakes with: kWakeQuietPhase or kWakeEveryWaiter.
std::uint32_t wake_mask_for(Phase phase) noexcept;

enum class InitType : std::uint16_t {
  unknown = 0,
  on_demand = 1,
  provisioned_concurrency = 2,
  snap_start = 3,
  lambda_managed_instances = 4,
};
inline constexpr std::uint16_t kInitTypeCount = 5;

enum class TransitionSource : std::uint16_t {
  none = 0,
  manual = 1,
  runtime_api = 2,
  runtime_api_proxy = 3,
};
inline constexpr std::uint16_t kTransitionSourceCount = 4;

enum class AckOutcome : std::uint16_t {
  none = 0,
  ok = 1,
  failed = 2,
};
inline constexpr std::uint16_t kAckOutcomeCount = 3;

// Names as the CLI and JSON print them: "before-snapshot", "snap-start", "runtime-api", "ok".
// Values outside the enum (a newer publisher) print as "unknown(N)" rather than failing.
std::string phase_name(Phase phase);
std::string init_type_name(InitType type);
std::string source_name(TransitionSource source);
std::string outcome_name(AckOutcome outcome);
// Parses AWS_LAMBDA_INITIALIZATION_TYPE ("snap-start", ...); anything else is InitType::unknown.
InitType init_type_from_lambda(std::string_view value) noexcept;

struct SegmentHeader {
  std::atomic<std::uint64_t> magic;
  std::uint32_t layout_version;
  std::uint32_t header_bytes;
  std::uint32_t state_offset;
  std::uint32_t state_bytes;
  std::uint32_t slots_offset;
  std::uint32_t slot_bytes;
  std::uint32_t slot_count;
  std::atomic<std::uint32_t> publisher_pid;
  std::atomic<std::uint64_t> publisher_start_time;
  std::uint64_t segment_bytes;
  std::uint64_t created_wall_ns;
};

struct StateRecord {
  std::atomic<std::uint32_t> seq;
  std::atomic<std::uint16_t> phase;
  std::atomic<std::uint16_t> init_type;
  std::atomic<std::uint64_t> generation;
  std::atomic<std::uint64_t> restore_id_high;
  std::atomic<std::uint64_t> restore_id_low;
  std::atomic<std::uint64_t> snapshot_wall_ns;
  std::atomic<std::uint64_t> snapshot_mono_ns;
  std::atomic<std::uint64_t> restore_wall_ns;
  std::atomic<std::uint64_t> restore_mono_ns;
  std::atomic<std::uint64_t> changed_wall_ns;
  std::atomic<std::uint32_t> publisher_pid;
  std::atomic<std::uint16_t> source;
  std::uint16_t padding;
};

struct SlotRecord {
  std::atomic<std::uint32_t> pid;
  std::atomic<std::uint32_t> acked_seq;
  std::atomic<std::uint64_t> start_time;
  std::atomic<std::uint64_t> handled_generation;
  std::atomic<std::uint64_t> ack_wall_ns;
  std::atomic<std::uint32_t> flags;
  std::atomic<std::uint16_t> outcome;
  std::atomic<std::uint16_t> hooks_run;
  std::atomic<std::uint16_t> hooks_failed;
  std::uint16_t padding;
  // The owner's write counter, a seqlock over everything it writes after claiming (the ack fields,
  // acked_seq, the message): odd while it writes. Without it a reader could take one ack's outcome
  // with the next one's message. It sits where padding was, so a writer built before it leaves it
  // at zero, which reads as always stable (no protection, and no hang).
  std::atomic<std::uint32_t> record_seq;
  // Text is stored as relaxed-atomic words: the publisher may read a slot while its owner writes
  // the next ack, and record_seq tells that reader to copy the slot again.
  std::atomic<std::uint64_t> name[kSlotNameBytes / 8];
  std::atomic<std::uint64_t> message[kSlotMessageBytes / 8];
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::uint16_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<std::uint64_t>) == 8 && sizeof(std::atomic<std::uint16_t>) == 2);

static_assert(sizeof(SegmentHeader) == 64);
static_assert(offsetof(SegmentHeader, magic) == 0);
static_assert(offsetof(SegmentHeader, layout_version) == 8);
static_assert(offsetof(SegmentHeader, header_bytes) == 12);
static_assert(offsetof(SegmentHeader, state_offset) == 16);
static_assert(offsetof(SegmentHeader, state_bytes) == 20);
static_assert(offsetof(SegmentHeader, slots_offset) == 24);
static_assert(offsetof(SegmentHeader, slot_bytes) == 28);
static_assert(offsetof(SegmentHeader, slot_count) == 32);
static_assert(offsetof(SegmentHeader, publisher_pid) == 36);
static_assert(offsetof(SegmentHeader, publisher_start_time) == 40);
static_assert(offsetof(SegmentHeader, segment_bytes) == 48);
static_assert(offsetof(SegmentHeader, created_wall_ns) == 56);

static_assert(sizeof(StateRecord) == 80);
static_assert(offsetof(StateRecord, seq) == 0);
static_assert(offsetof(StateRecord, phase) == 4);
static_assert(offsetof(StateRecord, init_type) == 6);
static_assert(offsetof(StateRecord, generation) == 8);
static_assert(offsetof(StateRecord, restore_id_high) == 16);
static_assert(offsetof(StateRecord, restore_id_low) == 24);
static_assert(offsetof(StateRecord, snapshot_wall_ns) == 32);
static_assert(offsetof(StateRecord, snapshot_mono_ns) == 40);
static_assert(offsetof(StateRecord, restore_wall_ns) == 48);
static_assert(offsetof(StateRecord, restore_mono_ns) == 56);
static_assert(offsetof(StateRecord, changed_wall_ns) == 64);
static_assert(offsetof(StateRecord, publisher_pid) == 72);
static_assert(offsetof(StateRecord, source) == 76);

static_assert(sizeof(SlotRecord) == kSlotBytes);
static_assert(offsetof(SlotRecord, pid) == 0);
static_assert(offsetof(SlotRecord, acked_seq) == 4);
static_assert(offsetof(SlotRecord, start_time) == 8);
static_assert(offsetof(SlotRecord, handled_generation) == 16);
static_assert(offsetof(SlotRecord, ack_wall_ns) == 24);
static_assert(offsetof(SlotRecord, flags) == 32);
static_assert(offsetof(SlotRecord, outcome) == 36);
static_assert(offsetof(SlotRecord, hooks_run) == 38);
static_assert(offsetof(SlotRecord, hooks_failed) == 40);
static_assert(offsetof(SlotRecord, record_seq) == 44);
static_assert(offsetof(SlotRecord, name) == kSlotNameOffset);
static_assert(offsetof(SlotRecord, message) == kSlotMessageOffset);

// Stores text into an atomic-word field, NUL-padded and truncated to fit (on a UTF-8 boundary).
void store_text(std::atomic<std::uint64_t>* words, std::size_t word_count, std::string_view text) noexcept;
// Loads text stored by store_text; stops at the first NUL. Control characters (a newline, an escape)
// read back as spaces: the text goes into one-line displays and logs.
std::string load_text(const std::atomic<std::uint64_t>* words, std::size_t word_count);

}  // namespace snapbus
