// Web mode: the adapter is the function's runtime client, in front of a web app that knows
// nothing of Lambda (Lambda Web Adapter's model), and it runs the SnapStart bracket in every
// process of the app through the bus.
//
//   const AdapterConfig config = adapter_config_from_environment();
//   return run_web_adapter(config, snapbus::config_from_environment(), {.extension_name = "snapbus"});
//
// The steps, in order: create the segment (starting), register as an extension (SHUTDOWN only),
// wait for the app's readiness, run the bracket around restore/next (snap-start) or enter running
// (on-demand), then answer invocations until SHUTDOWN, SIGTERM or SIGINT. With SNAPBUS_BRACKET=off
// it is a plain LWA-style client: no segment, no restore/next (a proxy in front runs the bracket).
#pragma once

#include "adapter_config.h"
#include "adapter_process.h"
#include "snapbus/config.h"

namespace snapbus::adapter {

// Runs the adapter until shutdown; returns one of AdapterProcess's exit codes. Throws
// snapbus::Error when the segment cannot be created (the system's failure, with errno and path).
int run_web_adapter(const AdapterConfig& config, const Config& bus_config, const LaunchOptions& launch);

}  // namespace snapbus::adapter
