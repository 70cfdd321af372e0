// `snapbus publish <step> [--timeout-ms N] [--segment PATH] [--expect-subscribers N] [--fresh] [--json]`:
// drives the bus by hand (custom runtimes, CRIU action scripts, tests).
//
//   const snapbus::cli::PublishRequest request = snapbus::cli::parse_publish_command(words, config);
//   return snapbus::cli::run_publish(request, config, std::cout, std::cerr);
//
// Takes the publisher role for this run only (creating the segment if there is none, taking over
// one whose publisher died) and runs one step of the bracket through lifecycle/ (lifecycle_step.h),
// printing its progress and who acked what. Only when all acked ok does it move on (before-snapshot
// -> snapshot-ready, restore -> running); otherwise it stays in the phase and exits 1. A dead
// subscriber is reported as soon as it is noticed, never waited for.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>

#include "cli_exit_code.h"
#include "command_line.h"
#include "snapbus/config.h"
#include "snapbus/lifecycle_step.h"

namespace snapbus::cli {

struct PublishRequest {
  lifecycle::Step step = lifecycle::Step::running;
  std::filesystem::path segment_path;
  std::chrono::milliseconds timeout{0};
  std::optional<std::size_t> expect_subscribers;
  // Only with `starting`: a new segment replaces one an earlier run left at the path (PublisherOptions::fresh).
  bool fresh = false;
  OutputFormat format = OutputFormat::text;
};

// The words after `publish`. Throws UsageError or HelpRequested (command_line.h).
PublishRequest parse_publish_command(std::span<const std::string> words, const Config& config);

ExitCode run_publish(const PublishRequest& request, const Config& config, std::ostream& out, std::ostream& err);

}  // namespace snapbus::cli
