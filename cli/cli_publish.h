// `snapbus publish <before-snapshot|restore|running|shutdown> [--timeout-ms N] [--segment PATH]
// [--json]`: drives the bus by hand (custom runtimes, CRIU action scripts, tests).
//
//   return snapbus::cli::run_publish(args, config, std::cout, std::cerr);
//
// Takes the publisher role for this run only (creating the segment if there is none, taking over
// one whose publisher died), applies the transition of docs/client-semantics.md, waits for every
// live subscriber that asked to be waited for, and reports each one. Only when all acked ok does
// it move on (before-snapshot -> snapshot-ready, restore -> running); otherwise it stays in the
// phase and exits 1. A dead subscriber is reported as soon as it is noticed, never waited for.
#pragma once

#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "snapbus/config.h"
#include "snapbus/layout.h"

namespace snapbus::cli {

extern const char* const kPublishHelp;

// What one `publish <request>` does: the phase to enter, and where to go once every ack is ok.
struct PublishPlan {
  Phase phase = Phase::running;
  std::optional<Phase> after_all_acked;
};
// "before-snapshot", "restore", "running", "shutdown"; UsageError for anything else.
PublishPlan publish_plan(std::string_view request);

int run_publish(std::span<const std::string> args, const Config& config, std::ostream& out, std::ostream& err);

}  // namespace snapbus::cli
