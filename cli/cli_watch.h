// `snapbus watch [--json] [--segment PATH] [--count N] [--timeout-ms N]`: one line per state
// change, as it happens.
//
//   return snapbus::cli::run_watch(args, config, std::cout, std::cerr);
//
// The first line is the state when watching starts (so a script knows the watch is live); every
// later line is a change, seen by futex-waiting on seq through a read-only mapping. No slot is
// claimed, so publishers never wait for a watcher. Changes made faster than a watcher wakes are
// seen as one (the line then says how many it skipped). Waits for the segment if there is none
// yet, and follows a segment file that a new publisher replaced.
#pragma once

#include <iosfwd>
#include <span>
#include <string>

#include "snapbus/config.h"

namespace snapbus::cli {

extern const char* const kWatchHelp;

int run_watch(std::span<const std::string> args, const Config& config, std::ostream& out, std::ostream& err);

}  // namespace snapbus::cli
