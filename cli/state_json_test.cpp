#include "state_json.h"

#include <gtest/gtest.h>

namespace snapbus::cli {
namespace {

// `status --json` of a segment in a directory whose name is ISO-8859-1: still JSON, bytes recoverable.
TEST(StateJsonTest, APathThatIsNotUtf8StaysJson) {
  const boost::json::string json = path_to_json("/tmp/caf\xe9/bus.seg");
  EXPECT_EQ(json, "/tmp/caf\u00e9/bus.seg");
  EXPECT_EQ(boost::json::parse(boost::json::serialize(boost::json::value(json))).as_string(), json);
  EXPECT_EQ(path_to_json("/tmp/\u00e9t\u00e9/bus.seg"), "/tmp/\u00e9t\u00e9/bus.seg") << "UTF-8 is kept as it is";
}

TEST(StateJsonTest, StateCarriesEveryFieldWithCliSpellings) {
  StateSnapshot state;
  state.seq = 6;
  state.generation = 1;
  state.phase = Phase::after_restore;
  state.init_type = InitType::snap_start;
  state.source = TransitionSource::manual;
  state.restore_id_high = 0x9f;
  state.restore_id_low = 1;
  state.restore_wall_ns = 1'700'000'000'000'000'000ULL;
  state.publisher_pid = 4242;

  const boost::json::object json = state_to_json(state);

  EXPECT_EQ(json.at("seq").to_number<std::int64_t>(), 6);
  EXPECT_EQ(json.at("generation").to_number<std::int64_t>(), 1);
  EXPECT_EQ(json.at("phase").as_string(), "after-restore");
  EXPECT_EQ(json.at("init_type").as_string(), "snap-start");
  EXPECT_EQ(json.at("source").as_string(), "manual");
  EXPECT_EQ(json.at("restore_id").as_string(), "000000000000009f0000000000000001");
  EXPECT_EQ(json.at("restore_time").as_string(), "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(json.at("snapshot_time").as_string(), "");
  EXPECT_EQ(json.at("publisher_pid").to_number<std::int64_t>(), 4242);
}

TEST(StateJsonTest, AckEntryIsTheSlotPlusItsStatus) {
  AckEntry entry;
  entry.slot.owner.pid = 9;
  entry.slot.name = "w";
  entry.slot.acked_seq = 6;
  entry.slot.outcome = AckOutcome::ok;
  entry.slot.hooks_run = 2;
  entry.status = AckStatus::acked;

  const boost::json::object json = ack_entry_to_json(entry, 6);

  EXPECT_EQ(json.at("pid").to_number<std::int64_t>(), 9);
  EXPECT_EQ(json.at("name").as_string(), "w");
  EXPECT_EQ(json.at("acked").as_bool(), true);
  EXPECT_EQ(json.at("outcome").as_string(), "ok");
  EXPECT_EQ(json.at("hooks_run").to_number<std::int64_t>(), 2);
  EXPECT_EQ(json.at("status").as_string(), ack_status_name(AckStatus::acked));
  EXPECT_EQ(json.at("mid_write").as_bool(), false);
}

TEST(StateJsonTest, SlotTextsThatAreNotUtf8StillMakeValidJson) {
  SlotInfo slot;
  slot.name = "worker-\xe9";             // an ISO-8859-1 byte, as a C caller may write it
  slot.message = "hook 'x\xc3' failed";  // a sequence cut short, as a corrupt segment may hold it
  const std::string text = boost::json::serialize(slot_to_json(slot, false));
  boost::system::error_code error;
  const boost::json::value parsed = boost::json::parse(text, error);  // Boost.JSON rejects invalid UTF-8
  ASSERT_FALSE(error) << error.message();
  EXPECT_EQ(parsed.at("name").as_string(), "worker-\xc3\xa9");
}

}  // namespace
}  // namespace snapbus::cli
