// The JSON shapes of `snapbus status --json`, `watch --json` and `publish --json`.
//
//   boost::json::object state = snapbus::cli::state_to_json(snapshot);
//   out << boost::json::serialize(state) << '\n';
//
// Names are snake_case; enums are the CLI's spellings ("after-restore", "snap-start"); times are
// given twice, as integer nanoseconds (exact) and as UTC text ("" when it never happened); the
// restore id is 32 hex digits. Fields are only ever added, never renamed.
#pragma once

#include <cstdint>
#include <filesystem>

#include <boost/json.hpp>

#include "snapbus/publisher.h"
#include "snapbus/seqlock.h"
#include "snapbus/slot_table.h"

namespace snapbus::cli {

boost::json::object state_to_json(const StateSnapshot& state);
// A path is bytes, and JSON is UTF-8: a name that is not UTF-8 (a directory named in ISO-8859-1)
// is written as its bytes read as ISO-8859-1 (utf8_text.h), so the output stays JSON and the bytes
// can be recovered.
boost::json::string path_to_json(const std::filesystem::path& path);
// The publisher recorded in the segment header and whether it is still running.
boost::json::object publisher_to_json(const ProcessIdentity& publisher, bool alive);
// `acked` is `current`: whether the slot is done with the state (state_text.h, is_current).
boost::json::object slot_to_json(const SlotInfo& slot, bool current);
// A slot as one publish waited for it: the slot plus "status" (acked, failed, missing, died).
boost::json::object ack_entry_to_json(const AckEntry& entry, std::uint32_t seq);

}  // namespace snapbus::cli
