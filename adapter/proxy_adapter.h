// Proxy mode: the adapter as a Runtime API proxy on 127.0.0.1:SNAPBUS_PROXY_PORT (9009), in front
// of a runtime client it does not replace, running the SnapStart bracket in every process of the
// function through the bus (runtime_proxy.h says how).
//
//   return run_proxy_adapter(config, snapbus::config_from_environment(), {.extension_name = "snapbus"});
//
// Steps: listen (first, so a client that starts at once finds the proxy), create the segment,
// register as an extension (SHUTDOWN), then serve until SHUTDOWN, SIGTERM or SIGINT.
#pragma once

#include "adapter_config.h"
#include "adapter_process.h"
#include "snapbus/config.h"

namespace snapbus::adapter {

// The proxy's port is taken (another proxy, or any other program).
inline constexpr int kExitProxyPortInUse = 7;

// Runs the proxy until shutdown; returns one of AdapterProcess's exit codes or kExitProxyPortInUse.
int run_proxy_adapter(const AdapterConfig& config, const Config& bus_config, const LaunchOptions& launch);

}  // namespace snapbus::adapter
