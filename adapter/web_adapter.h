// Web mode: the adapter is the function's runtime client, in front of a web app that knows
// nothing of Lambda (Lambda Web Adapter's model), and it runs the SnapStart bracket in every
// process of the app through the bus.
//
//   const AdapterConfig config = adapter_config_from_environment();
//   return run_web_adapter(config, snapbus::config_from_environment(), {.extension_name = "snapbus"});
//
// The steps, in order: create the segment (starting), register as an extension (SHUTDOWN only),
// wait for the app's readiness, run the bracket around restore/next (snap-start) or enter running
// (on-demand), then answer invocations until SHUTDOWN, SIGTERM or SIGINT. Progress goes to stderr,
// one line each, prefixed "[snapbus] ", which Lambda puts in the function's log.
#pragma once

#include <optional>
#include <string>

#include "adapter_config.h"
#include "snapbus/config.h"

namespace snapbus::adapter {

struct LaunchOptions {
  // Register with the Extensions API under this name (Lambda matches it with the file name under
  // /opt/extensions). Unset: run as a plain runtime client (`snapbus adapter`), where SIGTERM is the
  // shutdown.
  std::optional<std::string> extension_name;
};

// Exit codes of the adapter process.
inline constexpr int kExitShutdown = 0;         // SHUTDOWN, SIGTERM or SIGINT
inline constexpr int kExitInitFailed = 3;       // before-snapshot failed (reported to init/error)
inline constexpr int kExitRestoreFailed = 4;    // after-restore failed (reported to restore/error)
inline constexpr int kExitRuntimeApiError = 5;  // the Runtime or Extensions API failed or refused a call

// Runs the adapter until shutdown; returns one of the codes above. Throws snapbus::Error when the
// segment cannot be created (the system's failure, with errno and path).
int run_web_adapter(const AdapterConfig& config, const Config& bus_config, const LaunchOptions& launch);

}  // namespace snapbus::adapter
