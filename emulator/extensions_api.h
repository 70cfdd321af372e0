// The Extensions API (/2020-01-01/extension/...): register, event/next, init/error, exit/error.
//
//   // inside the Runtime API listener, for targets under lambda::kExtensionApiPrefix:
//   co_await serve_extensions_api(env, exchange, "event/next");
#pragma once

#include <string_view>

#include "environment.h"
#include "snapbus/http_exchange.h"

namespace snapbus::emulator {

// `path` is the target after lambda::kExtensionApiPrefix, without the query string.
asio::awaitable<void> serve_extensions_api(Environment& env, net::HttpExchange& exchange, std::string_view path);

}  // namespace snapbus::emulator
