#include "state_text.h"

#include <gtest/gtest.h>

namespace snapbus::cli {
namespace {

TEST(StateTextTest, RestoreIdIsThirtyTwoHexDigitsHighWordFirst) {
  EXPECT_EQ(restore_id_hex(0x0123456789abcdefULL, 0xfULL), "0123456789abcdef000000000000000f");
  EXPECT_EQ(restore_id_hex(0, 0).size(), 32U);
}

TEST(StateTextTest, WallTimeIsUtcWithMilliseconds) {
  EXPECT_EQ(wall_time_text(0), "");
  EXPECT_EQ(wall_time_text(1'700'000'000'123'456'789ULL), "2023-11-14T22:13:20.123Z");
}

TEST(StateTextTest, AckedComparesAsSerialNumbers) {
  EXPECT_TRUE(has_acked(6, 6));
  EXPECT_TRUE(has_acked(8, 6));
  EXPECT_FALSE(has_acked(4, 6));
  EXPECT_TRUE(has_acked(2, 0xfffffffeU));  // wrapped: 2 comes after 0xfffffffe
}

// A hook runner acks a quiet phase only when it next wakes: in running, a slot that ran the
// restore's hooks is current even though its ack is of the after-restore seq.
TEST(StateTextTest, QuietPhasesAskOnlyForTheRestoresHooks) {
  StateSnapshot state;
  state.seq = 10;
  state.generation = 1;
  state.phase = Phase::running;
  SlotInfo slot;
  slot.acked_seq = 8;
  slot.handled_generation = 1;
  EXPECT_TRUE(is_current(slot, state));
  slot.handled_generation = 0;
  EXPECT_FALSE(is_current(slot, state));

  state.phase = Phase::after_restore;  // a hook phase asks for the ack itself
  slot.handled_generation = 1;
  EXPECT_FALSE(is_current(slot, state));
  slot.acked_seq = 10;
  EXPECT_TRUE(is_current(slot, state));
}

TEST(StateTextTest, LinesNameTheFieldsThatMatter) {
  StateSnapshot state;
  state.seq = 6;
  state.generation = 1;
  state.phase = Phase::after_restore;
  state.publisher_pid = 42;
  const std::string line = state_line(state);
  EXPECT_NE(line.find("generation 1"), std::string::npos) << line;
  EXPECT_NE(line.find("phase after-restore"), std::string::npos) << line;

  SlotInfo slot;
  slot.owner.pid = 77;
  slot.alive = true;
  slot.wait_for_ack = true;
  slot.name = "worker";
  slot.acked_seq = 4;
  slot.outcome = AckOutcome::failed;
  slot.message = "after-restore hook 'db' failed: std::runtime_error: down";
  const std::string text = slot_line(slot, is_current(slot, state));
  EXPECT_NE(text.find("pid      77 alive"), std::string::npos) << text;
  EXPECT_NE(text.find("(behind)"), std::string::npos) << text;
  EXPECT_NE(text.find("hook 'db' failed"), std::string::npos) << text;
  EXPECT_EQ(text.find("mid-write"), std::string::npos) << text;
  slot.mid_write = true;
  const std::string torn = slot_line(slot, is_current(slot, state));
  EXPECT_NE(torn.find("(record mid-write: its owner stopped while writing it)"), std::string::npos) << torn;
}

}  // namespace
}  // namespace snapbus::cli
