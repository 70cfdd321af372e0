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
  const std::string text = slot_line(slot, 6);
  EXPECT_NE(text.find("pid      77 alive"), std::string::npos) << text;
  EXPECT_NE(text.find("(behind)"), std::string::npos) << text;
  EXPECT_NE(text.find("hook 'db' failed"), std::string::npos) << text;
}

}  // namespace
}  // namespace snapbus::cli
