// `snapbus watch [--json] [--segment PATH] [--count N] [--timeout-ms N]`: one line per state
// change, as it happens.
//
//   const snapbus::cli::WatchRequest request = snapbus::cli::parse_watch_command(words, config);
//   return snapbus::cli::run_watch(request, config, std::cout, std::cerr);
//
// The first line is the state when watching starts (so a script knows the watch is live); every
// later line is a change, seen by futex-waiting on seq through a read-only mapping. No slot is
// claimed, so publishers never wait for a watcher. Changes made faster than a watcher wakes are
// seen as one (the line then says how many it skipped). Waits for the segment if there is none
// yet, and follows a segment file that a new publisher replaced.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>

#include "cli_exit_code.h"
#include "command_line.h"
#include "snapbus/config.h"

namespace snapbus::cli {

struct WatchRequest {
  std::filesystem::path segment_path;
  OutputFormat format = OutputFormat::text;
  std::optional<std::int64_t> count;                 // stop after this many lines
  std::optional<std::chrono::milliseconds> timeout;  // stop after this long
};

// The words after `watch`. Throws UsageError or HelpRequested (command_line.h).
WatchRequest parse_watch_command(std::span<const std::string> words, const Config& config);

// `out_fd` is the descriptor `out` writes to, if it is one: the watch then ends (an error, exit 5)
// once that output's reader has gone, instead of at the next change it fails to print.
ExitCode run_watch(const WatchRequest& request, const Config& config, std::ostream& out, std::ostream& err,
                   int out_fd = -1);

}  // namespace snapbus::cli
