#include "proxy_adapter.h"

#include <chrono>
#include <optional>

#include <fmt/format.h>
#include <boost/system/system_error.hpp>

#include "runtime_proxy.h"
#include "snapbus/http_server.h"
#include "snapbus/lambda_protocol.h"
#include "snapstart_bracket.h"

namespace snapbus::adapter {

namespace asio = boost::asio;

int run_proxy_adapter(const AdapterConfig& config, const Config& bus_config, const LaunchOptions& launch) {
  if (config.runtime_api.empty()) {
    log_line(fmt::format("{} is not set: not running in Lambda or under `snapbus emulate`", lambda::kEnvRuntimeApi));
    return kExitRuntimeApiError;
  }
  auto upstream = net::parse_host_port(config.runtime_api);
  if (!upstream) {
    log_line(fmt::format("the Runtime API address '{}' (AWS_LAMBDA_RUNTIME_API): {}", config.runtime_api,
                         upstream.error().message));
    return kExitRuntimeApiError;
  }
  // LWA's own SnapStart paths belong to LWA, the client behind this proxy: posting them here too
  // would run the app's hook twice.
  AdapterConfig bracket_config = config;
  bracket_config.snapstart_before_checkpoint_path.clear();
  bracket_config.snapstart_after_restore_path.clear();

  // After the process, so their sockets and timers go before its io_context (see AdapterProcess).
  AdapterProcess process(config, bus_config, launch, TransitionSource::runtime_api_proxy);
  std::optional<SnapStartBracket> bracket;
  std::optional<RuntimeProxy> proxy;

  // The bracket is made on first use: the segment exists by then (the process creates it before it
  // serves anything), and a client calls restore/next or invocation/next only once Init is under way.
  auto ensure_bracket = [&]() -> SnapStartBracket& {
    if (!bracket) {
      bracket.emplace(process.publisher(), bracket_config, process.started(), process.io().get_executor(), log_line,
                      [&process](BusStep step) { return process.run_step_aside(std::move(step)); });
    }
    return *bracket;
  };
  std::optional<RuntimeProxy::Bracket> steps;
  if (process.snap_start() && !config.run_bracket) {
    log_line(fmt::format("{}=off: forwarding only, no SnapStart bracket", kEnvBracket));
  }
  if (process.snap_start() && config.run_bracket) {
    steps = RuntimeProxy::Bracket{.before_snapshot = [ensure_bracket] { return ensure_bracket().before_snapshot(); },
                                  .after_restore = [ensure_bracket] { return ensure_bracket().after_restore(); },
                                  .stopping = [&process] { return process.stopping(); }};
  }
  proxy.emplace(process.io().get_executor(), *upstream, std::move(steps),
                [](std::string_view line) { log_line(fmt::format("proxy: {}", line)); });

  try {
    net::http_listen(
        process.io(), "127.0.0.1", config.proxy_port, [&proxy](net::HttpExchange& ex) { return proxy->handle(ex); },
        RuntimeProxy::listen_options([](std::string_view line) { log_line(fmt::format("proxy: {}", line)); }));
  } catch (const boost::system::system_error& error) {
    log_line(fmt::format("cannot listen on 127.0.0.1:{} (SNAPBUS_PROXY_PORT): {}", config.proxy_port,
                         error.code().message()));
    return kExitProxyPortInUse;
  }
  return process.run([&config, authority = upstream->authority()](AdapterProcess&) -> asio::awaitable<void> {
    log_line(fmt::format("proxy on 127.0.0.1:{} for the Runtime API at {}", config.proxy_port, authority));
    co_return;
  });
}

}  // namespace snapbus::adapter
