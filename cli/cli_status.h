// `snapbus status [--json] [--segment PATH]`: the lifecycle state and every subscriber slot.
//
//   const snapbus::cli::StatusRequest request = snapbus::cli::parse_status_command(words, config);
//   return snapbus::cli::run_status(request, config, std::cout);
//
// Maps the segment read-only (SegmentAccess::observe) and claims nothing, so it is safe to run
// at any moment, even while hooks are running. No segment: Error(not_found), exit code 3.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <span>
#include <string>
#include <vector>

#include "cli_exit_code.h"
#include "command_line.h"
#include "snapbus/config.h"
#include "snapbus/seqlock.h"
#include "snapbus/slot_table.h"

namespace snapbus::cli {

struct StatusRequest {
  std::filesystem::path segment_path;
  OutputFormat format = OutputFormat::text;
};

// The words after `status`. Throws UsageError or HelpRequested (command_line.h).
StatusRequest parse_status_command(std::span<const std::string> words, const Config& config);

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

ExitCode run_status(const StatusRequest& request, const Config& config, std::ostream& out);

}  // namespace snapbus::cli
