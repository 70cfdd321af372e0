// `snapbus status [--json] [--segment PATH]`: the lifecycle state and every subscriber slot.
//
//   return snapbus::cli::run_status(args, config, std::cout);
//
// Maps the segment read-only (SegmentAccess::observe) and claims nothing, so it is safe to run
// at any moment, even while hooks are running. No segment: Error(not_found), exit code 3.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <span>
#include <string>
#include <vector>

#include "snapbus/config.h"
#include "snapbus/seqlock.h"
#include "snapbus/slot_table.h"

namespace snapbus::cli {

extern const char* const kStatusHelp;

struct StatusReport {
  std::filesystem::path segment_path;
  StateSnapshot state;
  ProcessIdentity publisher;
  bool publisher_alive = false;
  std::vector<SlotInfo> slots;
};

// A consistent copy of the state and the slots as they are now. Error(not_found) with a sentence
// saying who creates the segment when there is none.
StatusReport read_status(const std::filesystem::path& segment_path, const Config& config);

void print_status_text(std::ostream& out, const StatusReport& report);
void print_status_json(std::ostream& out, const StatusReport& report);

int run_status(std::span<const std::string> args, const Config& config, std::ostream& out);

}  // namespace snapbus::cli
