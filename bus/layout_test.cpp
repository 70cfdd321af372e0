#include "snapbus/layout.h"

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/schema.h>
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>

#include "lifecycle.capnp.h"

namespace snapbus {
namespace {

std::size_t field_bytes(capnp::schema::Type::Which type) {
  switch (type) {
    case capnp::schema::Type::UINT64: return 8;
    case capnp::schema::Type::UINT32: return 4;
    case capnp::schema::Type::UINT16:
    case capnp::schema::Type::ENUM: return 2;
    default: ADD_FAILURE() << "unexpected field type " << static_cast<int>(type); return 0;
  }
}

// Every field of a schema struct, by name, with its byte offset in the data section.
template <typename Struct>
std::map<std::string, std::size_t> schema_offsets() {
  std::map<std::string, std::size_t> offsets;
  for (auto field : capnp::Schema::from<Struct>().getFields()) {
    auto proto = field.getProto();
    EXPECT_TRUE(proto.isSlot()) << "groups and unions have no fixed offset";
    const auto slot = proto.getSlot();
    EXPECT_FALSE(slot.getHadExplicitDefault()) << proto.getName().cStr() << " must default to zero";
    offsets[proto.getName().cStr()] = slot.getOffset() * field_bytes(slot.getType().which());
  }
  return offsets;
}

TEST(Layout, HeaderOffsetsMatchSchema) {
  const std::map<std::string, std::size_t> ours = {
      {"magic", offsetof(SegmentHeader, magic)},
      {"layoutVersion", offsetof(SegmentHeader, layout_version)},
      {"headerBytes", offsetof(SegmentHeader, header_bytes)},
      {"stateOffset", offsetof(SegmentHeader, state_offset)},
      {"stateBytes", offsetof(SegmentHeader, state_bytes)},
      {"slotsOffset", offsetof(SegmentHeader, slots_offset)},
      {"slotBytes", offsetof(SegmentHeader, slot_bytes)},
      {"slotCount", offsetof(SegmentHeader, slot_count)},
      {"publisherPid", offsetof(SegmentHeader, publisher_pid)},
      {"publisherStartTime", offsetof(SegmentHeader, publisher_start_time)},
      {"segmentBytes", offsetof(SegmentHeader, segment_bytes)},
      {"createdWallNs", offsetof(SegmentHeader, created_wall_ns)},
  };
  EXPECT_EQ(schema_offsets<schema::SegmentHeader>(), ours);
}

TEST(Layout, StateOffsetsMatchSchema) {
  const std::map<std::string, std::size_t> ours = {
      {"seq", offsetof(StateRecord, seq)},
      {"phase", offsetof(StateRecord, phase)},
      {"initType", offsetof(StateRecord, init_type)},
      {"generation", offsetof(StateRecord, generation)},
      {"restoreIdHigh", offsetof(StateRecord, restore_id_high)},
      {"restoreIdLow", offsetof(StateRecord, restore_id_low)},
      {"snapshotWallNs", offsetof(StateRecord, snapshot_wall_ns)},
      {"snapshotMonoNs", offsetof(StateRecord, snapshot_mono_ns)},
      {"restoreWallNs", offsetof(StateRecord, restore_wall_ns)},
      {"restoreMonoNs", offsetof(StateRecord, restore_mono_ns)},
      {"changedWallNs", offsetof(StateRecord, changed_wall_ns)},
      {"publisherPid", offsetof(StateRecord, publisher_pid)},
      {"source", offsetof(StateRecord, source)},
  };
  EXPECT_EQ(schema_offsets<schema::LifecycleState>(), ours);
}

TEST(Layout, SlotOffsetsMatchSchema) {
  const std::map<std::string, std::size_t> ours = {
      {"pid", offsetof(SlotRecord, pid)},
      {"ackedSeq", offsetof(SlotRecord, acked_seq)},
      {"startTime", offsetof(SlotRecord, start_time)},
      {"handledGeneration", offsetof(SlotRecord, handled_generation)},
      {"ackWallNs", offsetof(SlotRecord, ack_wall_ns)},
      {"flags", offsetof(SlotRecord, flags)},
      {"outcome", offsetof(SlotRecord, outcome)},
      {"hooksRun", offsetof(SlotRecord, hooks_run)},
      {"hooksFailed", offsetof(SlotRecord, hooks_failed)},
      {"recordSeq", offsetof(SlotRecord, record_seq)},
  };
  EXPECT_EQ(schema_offsets<schema::SubscriberSlot>(), ours);
}

// Writes a state through Cap'n Proto's generated builder and reads the same bytes as our record:
// the two must agree on every field, enums included.
TEST(Layout, StateBytesRoundTripThroughGeneratedCode) {
  capnp::MallocMessageBuilder message;
  auto state = message.initRoot<schema::LifecycleState>();
  state.setSeq(42);
  state.setPhase(schema::Phase::AFTER_RESTORE);
  state.setInitType(schema::InitType::SNAP_START);
  state.setGeneration(7);
  state.setRestoreIdHigh(0x1122334455667788ULL);
  state.setRestoreIdLow(0x99aabbccddeeff00ULL);
  state.setSnapshotWallNs(1);
  state.setSnapshotMonoNs(2);
  state.setRestoreWallNs(3);
  state.setRestoreMonoNs(4);
  state.setChangedWallNs(5);
  state.setPublisherPid(4242);
  state.setSource(schema::TransitionSource::RUNTIME_API_PROXY);

  auto data = capnp::AnyStruct::Reader(state.asReader()).getDataSection();
  ASSERT_EQ(data.size(), sizeof(StateRecord));
  alignas(StateRecord) unsigned char raw[sizeof(StateRecord)];
  std::memcpy(raw, data.begin(), sizeof raw);
  const auto& record = *reinterpret_cast<const StateRecord*>(raw);
  EXPECT_EQ(record.seq.load(), 42U);
  EXPECT_EQ(static_cast<Phase>(record.phase.load()), Phase::after_restore);
  EXPECT_EQ(static_cast<InitType>(record.init_type.load()), InitType::snap_start);
  EXPECT_EQ(record.generation.load(), 7U);
  EXPECT_EQ(record.restore_id_high.load(), 0x1122334455667788ULL);
  EXPECT_EQ(record.restore_id_low.load(), 0x99aabbccddeeff00ULL);
  EXPECT_EQ(record.snapshot_wall_ns.load(), 1U);
  EXPECT_EQ(record.snapshot_mono_ns.load(), 2U);
  EXPECT_EQ(record.restore_wall_ns.load(), 3U);
  EXPECT_EQ(record.restore_mono_ns.load(), 4U);
  EXPECT_EQ(record.changed_wall_ns.load(), 5U);
  EXPECT_EQ(record.publisher_pid.load(), 4242U);
  EXPECT_EQ(static_cast<TransitionSource>(record.source.load()), TransitionSource::runtime_api_proxy);
}

TEST(Layout, EnumNamesMatchSchemaEnumerants) {
  auto phases = capnp::Schema::from<schema::Phase>().getEnumerants();
  ASSERT_EQ(phases.size(), kPhaseCount);
  EXPECT_EQ(phase_name(Phase::before_snapshot), "before-snapshot");
  EXPECT_EQ(phase_name(static_cast<Phase>(99)), "unknown(99)");
  EXPECT_EQ(init_type_from_lambda("snap-start"), InitType::snap_start);
  EXPECT_EQ(init_type_from_lambda("provisioned-concurrency"), InitType::provisioned_concurrency);
  EXPECT_EQ(init_type_from_lambda("bogus"), InitType::unknown);
}

TEST(Layout, TextFieldsTruncateOnUtf8BoundaryAndKeepATerminator) {
  std::atomic<std::uint64_t> words[2] = {};
  store_text(words, 2, "hello");
  EXPECT_EQ(load_text(words, 2), "hello");
  // 15 bytes fit (one NUL is kept); "é" is two bytes and must not be split at byte 15.
  store_text(words, 2, "abcdefghijklmn\xc3\xa9xyz");
  EXPECT_EQ(load_text(words, 2), "abcdefghijklmn");
  store_text(words, 2, "");
  EXPECT_EQ(load_text(words, 2), "");
  // Written by any process that maps the segment: no line of its own in a display or a log.
  store_text(words, 2, "a\nslot 9\x1b[2J\x7f");
  EXPECT_EQ(load_text(words, 2), "a slot 9 [2J ");
}

}  // namespace
}  // namespace snapbus
