#include "snapbus/layout.h"

#include <cstring>
#include <string>

#include "lifecycle.capnp.h"

namespace snapbus {

// The schema is the contract: if lifecycle.capnp changes, these fail to compile until layout.h
// follows. Field offsets are checked one by one against the schema in layout_test.cpp.
static_assert(schema::MAGIC == kMagic);
static_assert(schema::LAYOUT_VERSION == kLayoutVersion);
static_assert(schema::PAGE_BYTES == kPageBytes);
static_assert(schema::SLOT_BYTES == kSlotBytes);
static_assert(schema::SLOT_NAME_OFFSET == kSlotNameOffset);
static_assert(schema::SLOT_NAME_BYTES == kSlotNameBytes);
static_assert(schema::SLOT_MESSAGE_OFFSET == kSlotMessageOffset);
static_assert(schema::SLOT_MESSAGE_BYTES == kSlotMessageBytes);
static_assert(schema::DEFAULT_SLOT_COUNT == kDefaultSlotCount);
static_assert(schema::SegmentHeader::_capnpPrivate::dataWordSize * std::size_t{8} == sizeof(SegmentHeader));
static_assert(schema::LifecycleState::_capnpPrivate::dataWordSize * std::size_t{8} == sizeof(StateRecord));
static_assert(schema::SubscriberSlot::_capnpPrivate::dataWordSize * std::size_t{8} == kSlotNameOffset);
static_assert(schema::SegmentHeader::_capnpPrivate::pointerCount == 0);
static_assert(schema::LifecycleState::_capnpPrivate::pointerCount == 0);
static_assert(schema::SubscriberSlot::_capnpPrivate::pointerCount == 0);
static_assert(static_cast<std::uint16_t>(schema::Phase::SHUTTING_DOWN) + 1 == kPhaseCount);
static_assert(static_cast<std::uint16_t>(schema::InitType::LAMBDA_MANAGED_INSTANCES) + 1 == kInitTypeCount);
static_assert(static_cast<std::uint16_t>(schema::TransitionSource::RUNTIME_API_PROXY) + 1 == kTransitionSourceCount);
static_assert(static_cast<std::uint16_t>(schema::AckOutcome::FAILED) + 1 == kAckOutcomeCount);

namespace {

std::string unknown_name(unsigned value) { return "unknown(" + std::to_string(value) + ")"; }

}  // namespace

std::string phase_name(Phase phase) {
  switch (phase) {
    case Phase::starting: return "starting";
    case Phase::before_snapshot: return "before-snapshot";
    case Phase::snapshot_ready: return "snapshot-ready";
    case Phase::after_restore: return "after-restore";
    case Phase::running: return "running";
    case Phase::shutting_down: return "shutting-down";
  }
  return unknown_name(static_cast<unsigned>(phase));
}

bool runs_hooks(Phase phase) noexcept {
  return phase == Phase::before_snapshot || phase == Phase::after_restore || phase == Phase::shutting_down;
}

std::uint32_t wake_mask_for(Phase phase) noexcept { return runs_hooks(phase) ? kWakeEveryWaiter : kWakeQuietPhase; }

std::string init_type_name(InitType type) {
  switch (type) {
    case InitType::unknown: return "unknown";
    case InitType::on_demand: return "on-demand";
    case InitType::provisioned_concurrency: return "provisioned-concurrency";
    case InitType::snap_start: return "snap-start";
    case InitType::lambda_managed_instances: return "lambda-managed-instances";
  }
  return unknown_name(static_cast<unsigned>(type));
}

std::string source_name(TransitionSource source) {
  switch (source) {
    case TransitionSource::none: return "none";
    case TransitionSource::manual: return "manual";
    case TransitionSource::runtime_api: return "runtime-api";
    case TransitionSource::runtime_api_proxy: return "runtime-api-proxy";
  }
  return unknown_name(static_cast<unsigned>(source));
}

std::string outcome_name(AckOutcome outcome) {
  switch (outcome) {
    case AckOutcome::none: return "none";
    case AckOutcome::ok: return "ok";
    case AckOutcome::failed: return "failed";
  }
  return unknown_name(static_cast<unsigned>(outcome));
}

InitType init_type_from_lambda(std::string_view value) noexcept {
  for (std::uint16_t i = 1; i < kInitTypeCount; ++i) {
    auto type = static_cast<InitType>(i);
    if (init_type_name(type) == value) return type;
  }
  return InitType::unknown;
}

void store_text(std::atomic<std::uint64_t>* words, std::size_t word_count, std::string_view text) noexcept {
  const std::size_t capacity = word_count * 8 - 1;  // keep one NUL so readers always stop
  std::size_t length = text.size() < capacity ? text.size() : capacity;
  // Never cut a UTF-8 sequence in half: back up over continuation bytes.
  if (length < text.size()) {
    while (length > 0 && (static_cast<unsigned char>(text[length]) & 0xC0U) == 0x80U) --length;
  }
  for (std::size_t w = 0; w < word_count; ++w) {
    unsigned char bytes[8] = {};
    for (std::size_t b = 0; b < 8; ++b) {
      const std::size_t index = w * 8 + b;
      if (index < length) bytes[b] = static_cast<unsigned char>(text[index]);
    }
    std::uint64_t word = 0;
    std::memcpy(&word, bytes, 8);
    words[w].store(word, std::memory_order_relaxed);
  }
}

std::string load_text(const std::atomic<std::uint64_t>* words, std::size_t word_count) {
  std::string text;
  for (std::size_t w = 0; w < word_count; ++w) {
    const std::uint64_t word = words[w].load(std::memory_order_relaxed);
    char bytes[8];
    std::memcpy(bytes, &word, 8);
    for (char c : bytes) {
      if (c == '\0') return text;
      // Any process that maps the segment may write a slot's text; read back, it goes into terminal
      // lines and logs, where a newline or an escape sequence would forge lines of its own.
      const auto byte = static_cast<unsigned char>(c);
      text.push_back(byte < 0x20U || byte == 0x7FU ? ' ' : c);
    }
  }
  return text;
}

}  // namespace snapbus
