#include "state_json.h"

#include "snapbus/utf8_text.h"
#include "state_text.h"

namespace snapbus::cli {

boost::json::object state_to_json(const StateSnapshot& state) {
  return {
      {"seq", state.seq},
      {"generation", state.generation},
      {"phase", phase_name(state.phase)},
      {"init_type", init_type_name(state.init_type)},
      {"source", source_name(state.source)},
      {"restore_id", restore_id_hex(state.restore_id_high, state.restore_id_low)},
      {"snapshot_wall_ns", state.snapshot_wall_ns},
      {"snapshot_time", wall_time_text(state.snapshot_wall_ns)},
      {"snapshot_mono_ns", state.snapshot_mono_ns},
      {"restore_wall_ns", state.restore_wall_ns},
      {"restore_time", wall_time_text(state.restore_wall_ns)},
      {"restore_mono_ns", state.restore_mono_ns},
      {"changed_wall_ns", state.changed_wall_ns},
      {"changed_time", wall_time_text(state.changed_wall_ns)},
      {"publisher_pid", state.publisher_pid},
  };
}

boost::json::string path_to_json(const std::filesystem::path& path) {
  return boost::json::string(utf8_text(path.native()));
}

boost::json::object publisher_to_json(const ProcessIdentity& publisher, bool alive) {
  return {{"pid", publisher.pid}, {"start_time", publisher.start_time}, {"alive", alive}};
}

// A slot's texts are what its subscriber wrote, or what a corrupt segment holds: utf8_text keeps the
// output JSON whatever their bytes.
boost::json::object slot_to_json(const SlotInfo& slot, bool current) {
  return {
      {"index", slot.index},
      {"pid", slot.owner.pid},
      {"alive", slot.alive},
      {"name", utf8_text(slot.name)},
      {"wait_for_ack", slot.wait_for_ack},
      {"acked_seq", slot.acked_seq},
      {"acked", current},
      {"handled_generation", slot.handled_generation},
      {"outcome", outcome_name(slot.outcome)},
      {"hooks_run", slot.hooks_run},
      {"hooks_failed", slot.hooks_failed},
      {"message", utf8_text(slot.message)},
      {"ack_wall_ns", slot.ack_wall_ns},
      {"ack_time", wall_time_text(slot.ack_wall_ns)},
      {"mid_write", slot.mid_write},
  };
}

boost::json::object ack_entry_to_json(const AckEntry& entry, std::uint32_t seq) {
  boost::json::object json = slot_to_json(entry.slot, has_acked(entry.slot.acked_seq, seq));
  json["status"] = ack_status_name(entry.status);
  return json;
}

}  // namespace snapbus::cli
